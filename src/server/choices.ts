/**
 * Runs the choices of one request on an engine: submits a sequence per choice, turns tokens into text (stop
 * strings, held-back partial characters), streams deltas or collects the whole, and cancels everything when
 * the client goes away or the request times out.
 */
import type { ContrastModel } from '../generate/model';
import type { DecodeRequest, EndReason, Engine, DecodeTicket, TokenEvent } from './engine';
import { ApiError } from './errors';
import { ChoiceText } from './text';

/** One choice to generate. */
export interface ChoiceSpec {
  index: number;
  request: DecodeRequest;
}

/** A generated token and the token before it (for its text in log-probability listings). */
export interface SeqToken extends TokenEvent {
  prev?: number;
}

/** A finished choice. */
export interface ChoiceResult {
  index: number;
  text: string;
  tokens: SeqToken[];
  finishReason: 'stop' | 'length';
}

/** Receives streamed deltas (stream mode). */
export type OnDelta = (index: number, delta: string, tokens: SeqToken[]) => void;

/**
 * Generates every choice. Resolves with the results in index order; rejects with an ApiError (queue full,
 * timeout, cancelled, engine failure). `signal` aborts (client gone): everything submitted is cancelled.
 */
export function runChoices(
  engine: Engine,
  model: ContrastModel,
  specs: ChoiceSpec[],
  stops: string[],
  options: { signal: AbortSignal; onDelta?: OnDelta },
): Promise<ChoiceResult[]> {
  return new Promise((resolve, reject) => {
    const tickets: DecodeTicket[] = [];
    const results: ChoiceResult[] = [];
    let left = specs.length;
    let failed: ApiError | null = null;
    const fail = (e: ApiError) => {
      if (failed) return;
      failed = e;
      for (const t of tickets) t.cancel();
      options.signal.removeEventListener('abort', onAbort);
      reject(e);
    };
    const onAbort = () => {
      const r = options.signal.reason;
      fail(r instanceof ApiError ? r : new ApiError(499, 'cancelled', 'the client closed the request'));
    };
    if (options.signal.aborted) return onAbort();
    options.signal.addEventListener('abort', onAbort, { once: true });
    for (const spec of specs) {
      const text = new ChoiceText(model, spec.request.prompt, stops);
      const tokens: SeqToken[] = [];
      let prev: number | undefined = spec.request.prompt[spec.request.prompt.length - 1];
      const sink = {
        onToken: (event: TokenEvent) => {
          const ev: SeqToken = { ...event, prev };
          prev = event.token;
          tokens.push(ev);
          const { delta, stopped } = text.push(ev.token);
          options.onDelta?.(spec.index, delta, [ev]);
          return stopped;
        },
        onEnd: (reason: EndReason, error?: Error) => {
          if (failed) return;
          if (reason === 'error') return fail(new ApiError(500, 'generation_failed', `generation failed: ${error?.message ?? 'unknown error'}`));
          if (reason === 'cancelled') return fail(new ApiError(499, 'cancelled', 'the request was cancelled'));
          const fin = text.finish();
          if (fin.delta) options.onDelta?.(spec.index, fin.delta, []);
          results.push({ index: spec.index, text: fin.text, tokens, finishReason: reason === 'length' ? 'length' : 'stop' });
          if (--left === 0) {
            options.signal.removeEventListener('abort', onAbort);
            resolve(results.sort((a, b) => a.index - b.index));
          }
        },
      };
      try {
        tickets.push(engine.submit(spec.request, sink));
      } catch (e) {
        return fail(e instanceof ApiError ? e : new ApiError(500, 'internal_error', String(e)));
      }
    }
  });
}
