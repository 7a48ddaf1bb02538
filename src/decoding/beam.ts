/**
 * Beam search over (contrasted) log-probabilities, per prompt: numBeams rows each; candidates are the top
 * 2 x numBeams extensions by cumulative log-probability; finished hypotheses are ranked by
 * `sum(logProbs) / length ** lengthPenalty` (length = generated tokens, the end-of-sequence token included).
 */
import { buildProcessors } from './chain';
import type { Selection, Selector } from './loop';
import type { ResolvedOptions } from './options';
import { logSoftmaxInPlace } from './processors';
import type { FinishReason, GeneratedSequence } from './result';

interface Beam {
  tokens: number[];
  logProbs: number[];
  sum: number;
}

interface Hypothesis extends GeneratedSequence {
  score: number;
}

const penalised = (sum: number, len: number, lp: number): number => sum / Math.max(1, len) ** lp;

/**
 * Beam search as a selector of the decode loop: every step it ranks the beams' extensions, keeps numBeams per
 * prompt and returns their last tokens with the rows they continue (`parents`); see the module comment for
 * the scoring.
 */
export function beamSelector(prompts: number[][], o: ResolvedOptions, vocabSize: number): Selector {
  const V = vocabSize;
  const B = o.numBeams;
  const P = prompts.length;
  const processors = buildProcessors(o);
  // Beam 0 starts alone: the other beams of a prompt begin at -Infinity so the first step expands one beam.
  let beams: Beam[][] = prompts.map(() => Array.from({ length: B }, (_, b) => ({ tokens: [], logProbs: [], sum: b === 0 ? 0 : -Infinity })));
  const finished: Hypothesis[][] = prompts.map(() => []);
  const closed = new Array<boolean>(P).fill(false);
  const addHyp = (p: number, h: Hypothesis): void => {
    finished[p].push(h);
    finished[p].sort((a, b) => b.score - a.score);
    if (finished[p].length > B) finished[p].length = B;
  };
  return {
    rows: prompts.flatMap((pr) => Array.from({ length: B }, () => pr)),
    select(lp: Float32Array): Selection {
      const parents: number[] = [];
      const nextTokens: number[] = [];
      const nextBeams: Beam[][] = [];
      for (let p = 0; p < P; p++) {
        const cands: { sum: number; beam: number; token: number; lp: number }[] = [];
        for (let b = 0; b < B; b++) {
          const beam = beams[p][b];
          const r = p * B + b;
          const row = lp.subarray(r * V, (r + 1) * V);
          if (processors.length) {
            for (const proc of processors) proc.process(row, { row: r, tokens: prompts[p].concat(beam.tokens), generated: beam.tokens.length });
            logSoftmaxInPlace(row);
          }
          if (beam.sum === -Infinity || closed[p]) continue;
          // Keep the 2B best extensions of this beam (enough for the prompt's 2B best overall).
          const top = topIndices(row, 2 * B);
          for (const t of top) cands.push({ sum: beam.sum + row[t], beam: b, token: t, lp: row[t] });
        }
        cands.sort((a, b) => b.sum - a.sum);
        const chosen: Beam[] = [];
        for (let i = 0; i < cands.length && chosen.length < B; i++) {
          const c = cands[i];
          const prev = beams[p][c.beam];
          const seq: Beam = { tokens: prev.tokens.concat(c.token), logProbs: prev.logProbs.concat(c.lp), sum: c.sum };
          if (o.eos.includes(c.token)) {
            // An ended hypothesis counts only when it ranks among the beams (as in Hugging Face's beam scorer).
            if (i < B) addHyp(p, { tokens: seq.tokens, logProbs: seq.logProbs, finishReason: 'eos', score: penalised(seq.sum, seq.tokens.length, o.lengthPenalty) });
            continue;
          }
          chosen.push(seq);
          parents.push(p * B + c.beam);
          nextTokens.push(c.token);
        }
        while (chosen.length < B) {
          // Closed prompt, or fewer candidates than beams: pad with dead beams that keep row alignment.
          chosen.push({ tokens: [], logProbs: [], sum: -Infinity });
          parents.push(p * B);
          nextTokens.push(o.eos[0] ?? 0);
        }
        nextBeams.push(chosen);
        if (!closed[p] && finished[p].length >= B) {
          const bestRunning = Math.max(...chosen.map((c) => (c.sum === -Infinity ? -Infinity : penalised(c.sum, c.tokens.length, o.lengthPenalty))));
          if (o.earlyStopping || bestRunning <= finished[p][finished[p].length - 1].score) closed[p] = true;
        }
      }
      beams = nextBeams;
      return { tokens: nextTokens, parents, done: closed.every(Boolean) };
    },
    finish(): GeneratedSequence[][] {
      for (let p = 0; p < P; p++) {
        if (closed[p]) continue;
        for (const b of beams[p]) {
          if (b.sum === -Infinity) continue;
          const reason: FinishReason = 'length';
          addHyp(p, { tokens: b.tokens, logProbs: b.logProbs, finishReason: reason, score: penalised(b.sum, b.tokens.length, o.lengthPenalty) });
        }
      }
      return finished.map((hs) => hs.slice(0, o.numReturnSequences));
    },
  };
}

function topIndices(row: Float32Array, k: number): number[] {
  const idx: number[] = [];
  for (let i = 0; i < row.length; i++) {
    if (row[i] === -Infinity) continue;
    if (idx.length < k) {
      idx.push(i);
      if (idx.length === k) idx.sort((a, b) => row[b] - row[a]);
    } else if (row[i] > row[idx[k - 1]]) {
      let j = k - 1;
      while (j > 0 && row[idx[j - 1]] < row[i]) { idx[j] = idx[j - 1]; j--; }
      idx[j] = i;
    }
  }
  if (idx.length < k) idx.sort((a, b) => row[b] - row[a]);
  return idx;
}
