// A float64 reference forward pass for the tiny GPT-2 and Llama test models, written
// independently of the graph builder (plain loops over the weight map, one unpadded sequence).

function load(weights, name) {
  const w = weights.get(name);
  if (!w) throw new Error(`reference: missing weight ${name}`);
  const data = typeof w.data === 'function' ? w.data() : w.data;
  return { dims: w.dims, data: Float64Array.from(data) };
}

/** y = x W for W stored [in, out]. */
function matVecInOut(x, W, inDim, outDim) {
  const y = new Float64Array(outDim);
  for (let i = 0; i < inDim; i++) {
    const xi = x[i];
    for (let o = 0; o < outDim; o++) y[o] += xi * W[i * outDim + o];
  }
  return y;
}

/** y = W x for W stored [out, in] (PyTorch nn.Linear). */
function matVecOutIn(x, W, outDim, inDim) {
  const y = new Float64Array(outDim);
  for (let o = 0; o < outDim; o++) {
    let s = 0;
    for (let i = 0; i < inDim; i++) s += W[o * inDim + i] * x[i];
    y[o] = s;
  }
  return y;
}

function addInPlace(a, b) {
  for (let i = 0; i < a.length; i++) a[i] += b[i];
  return a;
}

function layerNorm(x, w, b, eps) {
  const n = x.length;
  let mean = 0;
  for (const v of x) mean += v;
  mean /= n;
  let variance = 0;
  for (const v of x) variance += (v - mean) ** 2;
  variance /= n;
  const inv = 1 / Math.sqrt(variance + eps);
  return x.map((v, i) => (v - mean) * inv * w[i] + b[i]);
}

function rmsNorm(x, w, eps) {
  let ms = 0;
  for (const v of x) ms += v * v;
  ms /= x.length;
  const inv = 1 / Math.sqrt(ms + eps);
  return x.map((v, i) => v * inv * w[i]);
}

function geluTanh(v) {
  return 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
}

function silu(v) {
  return v / (1 + Math.exp(-v));
}

/**
 * Causal attention for every position of one sequence. q[t]: H*hd, k[t]/v[t]: KVH*hd.
 * Query head h uses kv head floor(h / (H / KVH)).
 */
function attention(q, k, v, H, KVH, hd) {
  const T = q.length;
  const rep = H / KVH;
  const out = [];
  for (let t = 0; t < T; t++) {
    const ctx = new Float64Array(H * hd);
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor(h / rep);
      const scores = [];
      for (let s = 0; s <= t; s++) {
        let dot = 0;
        for (let j = 0; j < hd; j++) dot += q[t][h * hd + j] * k[s][kvh * hd + j];
        scores.push(dot / Math.sqrt(hd));
      }
      const max = Math.max(...scores);
      const e = scores.map((x) => Math.exp(x - max));
      const z = e.reduce((a, b) => a + b, 0);
      for (let s = 0; s <= t; s++) {
        const p = e[s] / z;
        for (let j = 0; j < hd; j++) ctx[h * hd + j] += p * v[s][kvh * hd + j];
      }
    }
    out.push(ctx);
  }
  return out;
}

/** Rotates one head vector in place: 'half' pairs i with i + hd/2, 'interleaved' pairs 2i with 2i+1. */
function rope(vec, offset, hd, pos, theta, layout) {
  for (let i = 0; i < hd / 2; i++) {
    const angle = pos * Math.pow(theta, (-2 * i) / hd);
    const c = Math.cos(angle);
    const s = Math.sin(angle);
    const a = layout === 'half' ? offset + i : offset + 2 * i;
    const b = layout === 'half' ? offset + i + hd / 2 : offset + 2 * i + 1;
    const x1 = vec[a];
    const x2 = vec[b];
    vec[a] = x1 * c - x2 * s;
    vec[b] = x2 * c + x1 * s;
  }
}

/**
 * Runs the reference model on `ids` (positions 0..T-1). Returns the residual stream after each
 * block (`hiddens[L][t]`, L = 0 embeddings), and helpers for the final norm and heads.
 */
export function referenceForward(config, weights, ids) {
  return config.architecture === 'gpt2' ? gpt2Forward(config, weights, ids) : llamaForward(config, weights, ids);
}

function gpt2Forward(cfg, weights, ids) {
  const { numLayers: n, hiddenSize: d, numHeads: H, intermediateSize: I, vocabSize: V } = cfg;
  const hd = d / H;
  const eps = cfg.normEpsilon;
  const wte = load(weights, 'wte.weight').data;
  const wpe = load(weights, 'wpe.weight').data;
  let x = ids.map((id, t) => {
    const v = new Float64Array(d);
    for (let i = 0; i < d; i++) v[i] = wte[id * d + i] + wpe[t * d + i];
    return v;
  });
  const hiddens = [x.map((v) => v.slice())];
  for (let l = 0; l < n; l++) {
    const W = (name) => load(weights, `h.${l}.${name}`).data;
    const qkv = x.map((v) => addInPlace(matVecInOut(layerNorm(v, W('ln_1.weight'), W('ln_1.bias'), eps), W('attn.c_attn.weight'), d, 3 * d), W('attn.c_attn.bias')));
    const q = qkv.map((r) => r.slice(0, d));
    const k = qkv.map((r) => r.slice(d, 2 * d));
    const vv = qkv.map((r) => r.slice(2 * d));
    const ctx = attention(q, k, vv, H, H, hd);
    x = x.map((v, t) => addInPlace(v.slice(), addInPlace(matVecInOut(ctx[t], W('attn.c_proj.weight'), d, d), W('attn.c_proj.bias'))));
    x = x.map((v) => {
      const m = layerNorm(v, W('ln_2.weight'), W('ln_2.bias'), eps);
      const h = addInPlace(matVecInOut(m, W('mlp.c_fc.weight'), d, I), W('mlp.c_fc.bias')).map(geluTanh);
      return addInPlace(v.slice(), addInPlace(matVecInOut(h, W('mlp.c_proj.weight'), I, d), W('mlp.c_proj.bias')));
    });
    hiddens.push(x.map((v) => v.slice()));
  }
  const lnW = load(weights, 'ln_f.weight').data;
  const lnB = load(weights, 'ln_f.bias').data;
  const head = cfg.tieWordEmbeddings ? wte : load(weights, 'lm_head.weight').data;
  return finish(cfg, weights, hiddens, (v) => layerNorm(v, lnW, lnB, eps), head, V, d);
}

function llamaForward(cfg, weights, ids) {
  const { numLayers: n, hiddenSize: d, numHeads: H, numKvHeads: KVH, intermediateSize: I, vocabSize: V } = cfg;
  const hd = cfg.headDim ?? d / H;
  const eps = cfg.normEpsilon;
  const embed = load(weights, 'model.embed_tokens.weight').data;
  let x = ids.map((id) => embed.slice(id * d, id * d + d));
  const hiddens = [x.map((v) => v.slice())];
  for (let l = 0; l < n; l++) {
    const W = (name) => load(weights, `model.layers.${l}.${name}`).data;
    const a = x.map((v) => rmsNorm(v, W('input_layernorm.weight'), eps));
    const proj = (name, out, vec) => {
      const y = matVecOutIn(vec, W(`self_attn.${name}_proj.weight`), out, d);
      return cfg.attentionBias ? addInPlace(y, W(`self_attn.${name}_proj.bias`)) : y;
    };
    const q = a.map((v, t) => {
      const y = proj('q', H * hd, v);
      for (let h = 0; h < H; h++) rope(y, h * hd, hd, t, cfg.ropeTheta, cfg.rotary);
      return y;
    });
    const k = a.map((v, t) => {
      const y = proj('k', KVH * hd, v);
      for (let h = 0; h < KVH; h++) rope(y, h * hd, hd, t, cfg.ropeTheta, cfg.rotary);
      return y;
    });
    const vv = a.map((v) => proj('v', KVH * hd, v));
    const ctx = attention(q, k, vv, H, KVH, hd);
    x = x.map((v, t) => addInPlace(v.slice(), matVecOutIn(ctx[t], W('self_attn.o_proj.weight'), d, H * hd)));
    x = x.map((v) => {
      const m = rmsNorm(v, W('post_attention_layernorm.weight'), eps);
      const gate = matVecOutIn(m, W('mlp.gate_proj.weight'), I, d);
      const up = matVecOutIn(m, W('mlp.up_proj.weight'), I, d);
      const h = gate.map((g, i) => silu(g) * up[i]);
      return addInPlace(v.slice(), matVecOutIn(h, W('mlp.down_proj.weight'), d, I));
    });
    hiddens.push(x.map((v) => v.slice()));
  }
  const normW = load(weights, 'model.norm.weight').data;
  const head = cfg.tieWordEmbeddings ? embed : load(weights, 'lm_head.weight').data;
  return finish(cfg, weights, hiddens, (v) => rmsNorm(v, normW, eps), head, V, d);
}

function finish(cfg, weights, hiddens, finalNorm, head, V, d) {
  const n = cfg.numLayers;
  const lens = (L) => hiddens[L].map((v) => finalNorm(v));
  const project = (vecs, W, bias) => vecs.map((v) => {
    const y = matVecOutIn(v, W, V, d);
    return bias ? addInPlace(y, bias) : y;
  });
  return {
    hiddens,
    /** Final-norm applied to block L's output, per position. */
    lensHidden: lens,
    /** Logit lens at L: final norm + LM head. */
    lensLogits: (L) => project(lens(L), head),
    /** transformers' DoLa exit at L: the LM head on the residual stream, no final norm. */
    rawLogits: (L) => project(hiddens[L], head),
    /** Model logits. */
    logits: project(lens(n), head),
    /** Trained head exit: W [V, d] (+ bias) on the normed state. */
    headLogits: (L, wName, bName) => project(lens(L), load(weights, wName).data, bName ? load(weights, bName).data : undefined),
    /** Conversion exit: hidden = C normed (C [d, d] nn.Linear layout), logits = LM head on it. */
    conversionHidden: (L, cName) => lens(L).map((v) => matVecOutIn(v, load(weights, cName).data, d, d)),
    conversionLogits(L, cName) {
      return project(this.conversionHidden(L, cName), head);
    },
  };
}
