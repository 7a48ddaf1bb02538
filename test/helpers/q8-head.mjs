// A Q8_0 head for the 8-bit head tests (test/kernel/q8-head.test.mjs, test/generate/q8-head.test.mjs).

/** A Q8_0 head as GGUF stores it: codes in [-127, 127] with 127 in each block, float16-exact scales. */
export function q8Head(V, d, seed) {
  let s = seed >>> 0;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const codes = new Int8Array(V * d);
  const scales = new Float32Array((V * d) / 32);
  for (let b = 0; b < scales.length; b++) {
    scales[b] = (1 + Math.floor(rnd() * 2047)) * 2 ** -17; // 11 significant bits, as a float16 scale
    for (let e = 0; e < 32; e++) codes[b * 32 + e] = Math.floor(rnd() * 255) - 127;
    codes[b * 32 + Math.floor(rnd() * 32)] = rnd() < 0.5 ? 127 : -127;
  }
  return { codes, scales };
}
