// Tiny random GPT-Neo weights and a float64 reference forward pass (plain loops, one sequence),
// written from the model's definition: unscaled attention, local layers see the last `window` keys.

function gauss(r) {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

/** Random weights in HF GPTNeoModel names (without `transformer.`), nn.Linear [out, in]. */
export function tinyGptNeoWeights(cfg, rand) {
  const { numLayers: n, hiddenSize: d, vocabSize: V, intermediateSize: I, contextLength: C } = cfg;
  const w = new Map();
  const t = (name, dims, std, mean = 0) => {
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = mean + std * gauss(rand);
    w.set(name, { dims, data });
  };
  t('wte.weight', [V, d], 0.3);
  t('wpe.weight', [C, d], 0.1);
  for (let i = 0; i < n; i++) {
    const p = `h.${i}`;
    for (const ln of ['ln_1', 'ln_2']) { t(`${p}.${ln}.weight`, [d], 0.1, 1); t(`${p}.${ln}.bias`, [d], 0.1); }
    for (const m of ['q', 'k', 'v']) t(`${p}.attn.attention.${m}_proj.weight`, [d, d], 0.3);
    t(`${p}.attn.attention.out_proj.weight`, [d, d], 0.2);
    t(`${p}.attn.attention.out_proj.bias`, [d], 0.1);
    t(`${p}.mlp.c_fc.weight`, [I, d], 0.2);
    t(`${p}.mlp.c_fc.bias`, [I], 0.1);
    t(`${p}.mlp.c_proj.weight`, [d, I], 0.2);
    t(`${p}.mlp.c_proj.bias`, [d], 0.1);
  }
  t('ln_f.weight', [d], 0.1, 1);
  t('ln_f.bias', [d], 0.1);
  return w;
}

const lin = (x, W, out, inp, b) => {
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let s = b ? b[o] : 0;
    for (let i = 0; i < inp; i++) s += W[o * inp + i] * x[i];
    y[o] = s;
  }
  return y;
};

function ln(x, w, b, eps) {
  const n = x.length;
  const mean = x.reduce((a, v) => a + v, 0) / n;
  const v = x.reduce((a, u) => a + (u - mean) ** 2, 0) / n;
  return x.map((u, i) => ((u - mean) / Math.sqrt(v + eps)) * w[i] + b[i]);
}

const gelu = (v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));

/** Logits per position for final-normed hidden states after block L (L = n: the model's logits). */
export function gptNeoForward(cfg, weights, ids) {
  const { numLayers: n, hiddenSize: d, numHeads: H, intermediateSize: I, vocabSize: V, normEpsilon: eps } = cfg;
  const hd = d / H;
  const W = (name) => weights.get(name).data;
  let x = ids.map((id, t) => Float64Array.from({ length: d }, (_, i) => W('wte.weight')[id * d + i] + W('wpe.weight')[t * d + i]));
  const hiddens = [x];
  for (let l = 0; l < n; l++) {
    const p = `h.${l}`;
    const a = x.map((v) => ln(v, W(`${p}.ln_1.weight`), W(`${p}.ln_1.bias`), eps));
    const proj = (m) => a.map((v) => lin(v, W(`${p}.attn.attention.${m}_proj.weight`), d, d));
    const [q, k, vv] = ['q', 'k', 'v'].map(proj);
    const local = cfg.attentionLayers[l] === 'local';
    const ctx = ids.map((_, t) => {
      const out = new Float64Array(d);
      for (let h = 0; h < H; h++) {
        const scores = [];
        for (let j = 0; j <= t; j++) {
          if (local && j <= t - cfg.windowSize) { scores.push(-Infinity); continue; }
          let s = 0;
          for (let e = 0; e < hd; e++) s += q[t][h * hd + e] * k[j][h * hd + e]; // no 1/sqrt(hd)
          scores.push(s);
        }
        const m = Math.max(...scores);
        const ex = scores.map((s) => Math.exp(s - m));
        const z = ex.reduce((u, v) => u + v, 0);
        for (let j = 0; j <= t; j++) for (let e = 0; e < hd; e++) out[h * hd + e] += (ex[j] / z) * vv[j][h * hd + e];
      }
      return out;
    });
    x = x.map((v, t) => v.map((u, i) => u + lin(ctx[t], W(`${p}.attn.attention.out_proj.weight`), d, d, W(`${p}.attn.attention.out_proj.bias`))[i]));
    x = x.map((v) => {
      const m = ln(v, W(`${p}.ln_2.weight`), W(`${p}.ln_2.bias`), eps);
      const up = lin(m, W(`${p}.mlp.c_fc.weight`), I, d, W(`${p}.mlp.c_fc.bias`)).map(gelu);
      const down = lin(up, W(`${p}.mlp.c_proj.weight`), d, I, W(`${p}.mlp.c_proj.bias`));
      return v.map((u, i) => u + down[i]);
    });
    hiddens.push(x);
  }
  const lens = (L) => hiddens[L].map((v) => ln(v, W('ln_f.weight'), W('ln_f.bias'), eps));
  const project = (rows, M) => rows.map((v) => lin(v, M, V, d));
  return {
    logits: project(lens(n), W('wte.weight')),
    lensLogits: (L) => project(lens(L), W('wte.weight')),
    headLogits: (L, name) => project(lens(L), W(name)),
  };
}
