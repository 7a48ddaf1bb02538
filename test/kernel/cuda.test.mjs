// device: 'cuda'. Without a GPU: a clear error naming the reason. With one (the CUDA library built beside the
// addon, a driver and a device): every result against the CPU path. The plain C++ CUDA tests run with
// scripts/device-check.sh on a GPU machine.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import lib from '../helpers/lib.mjs';
import { normals } from '../helpers/random.mjs';

const { cudaInfo, acdLogProbs, cdScores, contrast, acdLogProbsSparse, acdLogProbsAsync, toFloat16, toBfloat16, backend } = lib;
const info = cudaInfo();

test('cudaInfo says whether device cuda can run, and why not', () => {
  assert.type(info.available, 'boolean');
  if (!info.available) {
    assert.type(info.reason, 'string');
    assert.ok(info.reason.length > 5);
    console.log(`  skipped: GPU comparisons (device 'cuda' not available: ${info.reason})`);
    if (backend().startsWith('native')) {
      assert.throws(() => acdLogProbs(new Float32Array(4), new Float32Array(4), { device: 'cuda' }), (e) => /device 'cuda' is not available: /.test(e.message));
    }
  } else {
    assert.ok(info.devices >= 1);
  }
});

test('device options are validated', () => {
  assert.throws(() => acdLogProbs(new Float32Array(4), new Float32Array(4), { device: 'gpu' }), TypeError);
  assert.throws(() => acdLogProbs(new Float32Array(4), new Float32Array(4), { cudaDevice: 0 }), /device 'cuda'/);
  assert.throws(() => acdLogProbs(new Float32Array(4), new Float32Array(4), { device: 'cuda', backend: 'js' }), /cannot be combined/);
});

if (info.available) {
  const conv = { float32: (x) => x, float16: toFloat16, bfloat16: toBfloat16 };
  for (const dtype of ['float32', 'float16', 'bfloat16'])
    for (const [V, rows] of [[50257, 1], [50257, 8], [1000, 64]])
      for (const mode of ['acd', 'cd'])
        test(`cuda = cpu: ${dtype} V=${V} rows=${rows} ${mode}`, () => {
          const E = conv[dtype](normals(rows * V, V + rows, 3)), A = conv[dtype](normals(rows * V, V + rows + 1, 3));
          const opt = { vocabSize: V, mode, alpha: 0.1, minCandidates: 2, ...(dtype === 'float32' ? {} : { dtype }) };
          const c = contrast(E, A, opt), g = contrast(E, A, { ...opt, device: 'cuda' });
          assert.equal(Array.from(g.headSize), Array.from(c.headSize));
          for (let i = 0; i < rows * V; i++)
            if (c.logProbs[i] === -Infinity) assert.is(g.logProbs[i], -Infinity);
            else assert.ok(Math.abs(Math.exp(g.logProbs[i]) - Math.exp(c.logProbs[i])) < 1e-6, `token ${i}`);
        });
  test('cuda sparse = cpu sparse, async = sync, NaN is a RangeError', async () => {
    const V = 5000, d = 256;
    const E = normals(V, 1, 3), h = normals(d, 2), W = normals(V * d, 3, 0.1);
    const c = acdLogProbsSparse(E, h, W), g = acdLogProbsSparse(E, h, W, { device: 'cuda' });
    for (let i = 0; i < V; i++) assert.ok(Math.abs(Math.exp(g[i]) - Math.exp(c[i])) < 1e-6);
    const A = normals(V, 4, 3);
    assert.equal(await acdLogProbsAsync(E, A, { device: 'cuda' }), acdLogProbs(E, A, { device: 'cuda' }));
    E[17] = NaN;
    assert.throws(() => cdScores(E, A, { device: 'cuda' }), (e) => e instanceof RangeError && /index 17/.test(e.message));
  });
}

test.run();
