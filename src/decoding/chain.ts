/** The processor chain implied by generation options. */
import type { ResolvedOptions } from './options';
import { minNewTokens, repetitionPenalty, temperature, topK, topP, type LogitsProcessor } from './processors';

/** The processors a resolved option set implies, in the reference's order, then the user's. */
export function buildProcessors(o: ResolvedOptions): LogitsProcessor[] {
  const list: LogitsProcessor[] = [];
  if (o.minNewTokens > 0 && o.eos.length) list.push(minNewTokens(o.minNewTokens, o.eos));
  if (o.repetitionPenalty !== 1) list.push(repetitionPenalty(o.repetitionPenalty));
  if (o.strategy === 'top-k' || o.strategy === 'top-p' || o.strategy === 'sample') {
    if (o.temperature !== 1) list.push(temperature(o.temperature));
    if (o.strategy === 'top-k') list.push(topK(o.topK));
    if (o.strategy === 'top-p') list.push(topP(o.topP));
  }
  return list.concat(o.processors);
}
