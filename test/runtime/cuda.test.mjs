// The runtime on ONNX Runtime's CUDA execution provider (device: 'cuda'). Where the provider, the autocontrast
// CUDA library, a driver and a GPU exist: decoding on the GPU equals the CPU runtime (greedy, plain and ACD).
// Elsewhere: a skip line with every reason, and loading with device 'cuda' is a clear rejection, not a crash.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as h from './helpers.mjs';

const skip = h.skipReason();
const status = skip ? null : h.rt.cudaRuntimeStatus();

test('device cuda is available, or a clear rejection that names every reason and the install command', async () => {
  if (skip) return;
  assert.type(status.available, 'boolean');
  if (status.available) return;
  console.log(`  skipped: GPU decoding (${status.reason})`);
  assert.match(status.reason, /CUDA/);
  const { dir } = await h.buildModelFolder(h.graph.TINY_GPT2_CONFIG, { exits: [{ layer: 1, kind: 'lens' }], logitPositions: 'last' });
  try {
    await h.rt.loadModel(dir, { device: 'cuda' });
    assert.unreachable('loadModel with device cuda resolved on a machine without it');
  } catch (e) {
    assert.instance(e, Error);
    assert.ok(e.message.includes(status.reason.slice(0, 40)) || /CUDA/.test(e.message), e.message);
  }
  // The CPU runtime still works after the rejection.
  const m = await h.rt.loadModel(dir);
  const seq = m.createSequence({ batch: 1, maxLength: 8 });
  const out = await seq.prefill([[1, 2, 3]]);
  assert.is(out.logits.length, h.graph.TINY_GPT2_CONFIG.vocabSize);
  seq.dispose();
  m.dispose();
});

test('device options are checked before anything loads', async () => {
  if (skip) return;
  for (const [opts, re] of [[{ device: 'gpu' }, /device/], [{ device: 'cuda', deviceId: -1 }, /deviceId/], [{ device: 'cuda', deviceId: 1.5 }, /deviceId/]]) {
    try {
      await h.rt.loadModel('/nonexistent-folder', opts);
      assert.unreachable(JSON.stringify(opts));
    } catch (e) {
      assert.instance(e, RangeError, `${JSON.stringify(opts)}: ${e.message}`);
      assert.match(e.message, re);
    }
  }
});

test('GPU decoding equals the CPU runtime (greedy, plain and ACD, batch 1 and 2)', async () => {
  if (skip || !status.available) return;
  const cfg = h.graph.TINY_LLAMA_CONFIG;
  const { dir } = await h.buildModelFolder(cfg, { exits: [{ layer: 1, kind: 'lens' }], logitPositions: 'last' });
  const cpu = await h.rt.loadModel(dir);
  const gpu = await h.rt.loadModel(dir, { device: 'cuda' });
  const exit = { layer: 1, logits: true, hidden: true };
  for (const prompts of [[[3, 5, 7, 9]], [[3, 5, 7, 9], [11, 2]]]) {
    for (const contrast of [undefined, { mode: 'acd', alpha: 0.1 }]) {
      const a = cpu.createSequence({ batch: prompts.length, maxLength: 24, exit });
      const b = gpu.createSequence({ batch: prompts.length, maxLength: 24, exit });
      let oa = await a.prefill(prompts, contrast ? { contrast } : undefined);
      let ob = await b.prefill(prompts, contrast ? { contrast } : undefined);
      for (let s = 0; s < 8; s++) {
        const ra = b.readOutputs();
        for (let i = 0; i < oa.logits.length; i++) assert.ok(Math.abs(ra.logits[i] - oa.logits[i]) < 1e-3, `step ${s} logit ${i}`);
        const next = contrast ? Array.from(oa.tokens) : prompts.map((_, r) => h.argmax(oa.logits.subarray(r * cfg.vocabSize, (r + 1) * cfg.vocabSize)));
        if (contrast) assert.equal(Array.from(ob.tokens), next, `step ${s} tokens`);
        oa = contrast ? await a.stepAndContrast(next, contrast) : await a.step(next);
        ob = contrast ? await b.stepAndContrast(next, contrast) : await b.step(next);
      }
      a.dispose();
      b.dispose();
    }
  }
  cpu.dispose();
  gpu.dispose();
});

test.run();
