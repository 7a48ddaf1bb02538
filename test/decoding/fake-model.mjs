// A deterministic stand-in for a decoder: next-token logits are a seeded function of the previous token and
// the position, the amateur a different one. Implements the DecoderModel/DecoderSession contract, reorder
// included, so the strategies can be tested without ONNX Runtime.
import { normals } from '../helpers/random.mjs';

export function fakeModel({ vocabSize = 40, eosTokenId = 0, scale = 3 } = {}) {
  const V = vocabSize;
  const table = normals(V * V * 4, 99, scale);       // expert: by (previous token, position mod 4)
  const amateurTable = normals(V * V * 4, 7, scale);
  const logits = (tab, prev, pos) => tab.subarray(((prev * 4) + (pos % 4)) * V, ((prev * 4) + (pos % 4) + 1) * V);
  const calls = { sessions: 0, disposed: 0 };
  return {
    vocabSize: V,
    eosTokenId,
    calls,
    async createSession({ rows, amateurLayer }) {
      calls.sessions++;
      let seqs = [];
      const output = () => {
        const expert = new Float32Array(seqs.length * V), amateur = new Float32Array(seqs.length * V);
        seqs.forEach((s, r) => {
          expert.set(logits(table, s[s.length - 1], s.length), r * V);
          amateur.set(logits(amateurTable, s[s.length - 1], s.length), r * V);
        });
        return amateurLayer === undefined ? { expert } : { expert, amateur };
      };
      return {
        vocabSize: V,
        async prefill(prompts) {
          if (prompts.length !== rows) throw new Error(`fake: ${prompts.length} prompts for ${rows} rows`);
          seqs = prompts.map((p) => p.slice());
          return output();
        },
        async step(tokens) {
          if (tokens.length !== seqs.length) throw new Error('fake: wrong token count');
          tokens.forEach((t, r) => seqs[r].push(t));
          return output();
        },
        reorder(parents) {
          seqs = parents.map((p) => seqs[p].slice());
        },
        dispose() {
          calls.disposed++;
        },
      };
    },
  };
}
