// Shared by the deterministic-mode tests (tiny models in test/runtime, the default model in test/generate):
// a row's decoder-session outputs as raw float32 bits, so that equality means bit for bit.

/** The float32 bit patterns of `values`. */
export function bits(values) {
  return Array.from(new Uint32Array(Float32Array.from(values).buffer));
}

/**
 * Row `row`'s expert logits and amateur outputs (dense logits or sparse hidden state) after its prompt and after
 * each of `forced` tokens, from a deterministic session of `model` (a ContrastModel) over `prompts`, as bits.
 * With `split`, the prompts are prefilled up to `split` tokens and the rest fed as steps (every prompt must then
 * be as long as the row's).
 */
export async function sessionBits(model, plan, prompts, row, forced, { split, maxLength = 64 } = {}) {
  const s = await model.decoder(plan, null, { deterministic: true }).createSession({ rows: prompts.length, maxLength });
  const V = model.vocabSize;
  const take = (o) => {
    const am = o.amateur ?? o.amateurHidden.hidden;
    const w = am.length / prompts.length;
    return [...o.expert.slice(row * V, (row + 1) * V), ...am.slice(row * w, (row + 1) * w)];
  };
  const got = [];
  try {
    let o;
    if (split === undefined) o = await s.prefill(prompts);
    else {
      o = await s.prefill(prompts.map((p) => p.slice(0, split)));
      for (let t = split; t < prompts[row].length; t++) o = await s.step(prompts.map((p) => p[t]));
    }
    got.push(...take(o));
    for (const f of forced) got.push(...take(await s.step(prompts.map(() => f))));
  } finally {
    s.dispose();
  }
  return bits(got);
}
