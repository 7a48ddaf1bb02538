// The training-step graphs' gradients against central finite differences of their own loss, on tiny random
// shapes: the linear head's cross-entropy (weight and bias) and the tuned lens's KL divergence (translator and
// shift), through both final norms (RMSNorm and LayerNorm).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
// Internal modules under test (not public): the training graph builders, checked against finite differences.
import ortGraph from '../../dist/train/ort-graph.js';
import steps from '../../dist/train/step-graphs.js';
import { graphPkg } from './helpers.mjs';

const d = 6;
const V = 9;
const T = 5;
const rand = (n, seed, std = 1) => graphPkg.gaussian(n, seed, std);

async function check(graphOf, feedsOf, params, norm, label) {
  const s = await ortGraph.graphSession(graphOf(norm, { d, V }).g, 1);
  const feeds = feedsOf();
  const base = await s.run(feeds);
  const loss = async () => (await s.run(feeds)).loss_sum.data[0];
  let worst = 0;
  for (const [name, grad] of params) {
    const p = feeds[name].data;
    const g = base[grad].data;
    for (const i of [0, 1, Math.floor(p.length / 2), p.length - 1]) {
      const keep = p[i];
      const h = 1e-2;
      p[i] = keep + h;
      const up = await loss();
      p[i] = keep - h;
      const down = await loss();
      p[i] = keep;
      const fd = (up - down) / (2 * h);
      const err = Math.abs(fd - g[i]);
      worst = Math.max(worst, err / (1e-3 + Math.abs(fd)));
      assert.ok(err <= 2e-3 + 2e-2 * Math.abs(fd), `${label} ${grad}[${i}]: graph ${g[i]}, finite difference ${fd}`);
    }
  }
  await s.release();
  console.log(`  ${label}: worst relative error ${worst.toExponential(2)}`);
}

for (const kind of ['rms', 'layer']) {
  const norm = { kind, weight: 'w', bias: kind === 'layer' ? 'b' : undefined, epsilon: 1e-5 };
  const normFeeds = () => ({
    norm_weight: ortGraph.f32(Float32Array.from(rand(d, 5, 0.3), (x) => 1 + x), [d]),
    ...(kind === 'layer' ? { norm_bias: ortGraph.f32(rand(d, 6, 0.1), [d]) } : {}),
  });

  test(`head cross-entropy gradient equals finite differences (${kind} norm)`, async () => {
    await check(
      steps.headStepGraph,
      () => ({
        h: ortGraph.f32(rand(T * d, 1, 2), [T, d]),
        y: ortGraph.i64([0, 3, 8, 3, 5], [T]),
        W: ortGraph.f32(rand(V * d, 2, 0.5), [V, d]),
        b: ortGraph.f32(rand(V, 3, 0.2), [V]),
        ...normFeeds(),
      }),
      [['W', 'grad_W'], ['b', 'grad_b']],
      norm,
      `head/${kind}`,
    );
  });

  test(`tuned-lens KL gradient equals finite differences (${kind} norm)`, async () => {
    const At = rand(d * d, 7, 0.3);
    for (let i = 0; i < d; i++) At[i * d + i] += 1;
    await check(
      steps.lensStepGraph,
      () => ({
        h: ortGraph.f32(rand(T * d, 8, 2), [T, d]),
        h_final: ortGraph.f32(rand(T * d, 9, 2), [T, d]),
        At: ortGraph.f32(At, [d, d]),
        tb: ortGraph.f32(rand(d, 10, 0.3), [d]),
        U: ortGraph.f32(rand(V * d, 11, 0.8), [V, d]),
        ub: ortGraph.f32(rand(V, 12, 0.2), [V]),
        ...normFeeds(),
      }),
      [['At', 'grad_At'], ['tb', 'grad_tb']],
      norm,
      `lens/${kind}`,
    );
  });
}

test.run();
