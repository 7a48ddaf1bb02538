import { load, generate } from 'autocontrast';
const model = await load(process.env.HOME + '/.cache/autocontrast/models/smollm2-135m', { intraOpThreads: 2 });
const P = ['The capital of France is', 'Once upon a time, in a small village at the edge of a forest,', 'def fibonacci(n):', 'Q: What is the largest planet in the solar system?\nA:', '12 + 35 = 47, and 48 + 21 =', 'The three primary colours are', 'My favourite thing about winter is', 'Dear hiring manager, I am writing to apply for'];
const mode = process.argv[2] ?? 'acd';
const opts = { maxNewTokens: 6, deterministic: true, ...(mode === 'plain' ? { contrast: false } : { amateurLayer: 15 }) };
const ref = await generate(model, P[4], opts);
let bad = 0;
for (let r = 0; r < 6; r++) {
  const eight = await generate(model, P, opts);
  const a = eight[4];
  const same = JSON.stringify(a.tokens) === JSON.stringify(ref.tokens) && a.logProbs.every((x, j) => x === ref.logProbs[j]);
  if (!same) { bad++; console.log('DIFF', JSON.stringify(a.tokens), JSON.stringify(ref.tokens), a.logProbs.map((x, j) => x - ref.logProbs[j])); }
}
console.log(mode, 'bad', bad, 'of 6');
