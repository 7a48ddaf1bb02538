/**
 * Incremental detokenising: token ids in, text out as soon as it is safe to show, decoding only a short
 * window (the tokens since the last commit point, after a few tokens of context) instead of the whole
 * continuation on every token. Used by `stream`, by stop-string checks and by the CLI.
 */
import type { LoadedTokenizer } from '../model/import';

/** Tokens of context decoded before the window, so that decoders which drop a leading space keep it. */
const CONTEXT = 4;
/** The window is committed (and decoding restarts after it) once it holds this many tokens at a character boundary. */
const COMMIT_EVERY = 16;

/** Turns a stream of token ids into text chunks that never split a character. */
export class TextStreamer {
  #tok: LoadedTokenizer | null;
  #ctx: number[];
  #window: number[] = [];
  #shownInWindow = '';
  #text = '';

  /** @param tokenizer decodes ids (null: no text); @param promptIds the prompt, whose tail is the first context. */
  constructor(tokenizer: LoadedTokenizer | null, promptIds: readonly number[]) {
    this.#tok = tokenizer;
    this.#ctx = promptIds.slice(-CONTEXT);
  }

  /** All text shown so far. */
  get text(): string {
    return this.#text;
  }

  /** Adds one token; returns the text it makes safe to show (possibly empty: an incomplete character is held). */
  push(token: number): string {
    if (!this.#tok) return '';
    this.#window.push(token);
    const opts = { skipSpecialTokens: true };
    const before = this.#tok.decode(this.#ctx, opts);
    const full = this.#tok.decode(this.#ctx.concat(this.#window), opts);
    let text = full.startsWith(before) ? full.slice(before.length) : this.#tok.decode(this.#window, opts);
    const complete = !text.endsWith('\uFFFD');
    if (!complete) text = text.replace(/\uFFFD+$/, '');
    let chunk = '';
    if (text.length > this.#shownInWindow.length && text.startsWith(this.#shownInWindow)) {
      chunk = text.slice(this.#shownInWindow.length);
      this.#shownInWindow = text;
      this.#text += chunk;
    }
    if (complete && this.#window.length >= COMMIT_EVERY && text === this.#shownInWindow) {
      this.#ctx = this.#ctx.concat(this.#window).slice(-CONTEXT);
      this.#window = [];
      this.#shownInWindow = '';
    }
    return chunk;
  }
}

/** The earliest occurrence of any of `stops` in `text` at or after `from`, or -1. */
export function findStop(text: string, stops: readonly string[], from = 0): number {
  let at = -1;
  for (const s of stops) {
    const i = text.indexOf(s, Math.max(0, from));
    if (i >= 0 && (at < 0 || i < at)) at = i;
  }
  return at;
}

/** `text` cut before the first stop string, and whether one was found. */
export function cutAtStop(text: string, stops: readonly string[]): { text: string; stopped: boolean } {
  const at = stops.length ? findStop(text, stops) : -1;
  return at < 0 ? { text, stopped: false } : { text: text.slice(0, at), stopped: true };
}

/**
 * Watches one row's text for stop strings, incrementally: each new token's text is searched together with
 * the tail that a stop string could straddle.
 */
export class StopWatcher {
  #streamer: TextStreamer;
  #stops: readonly string[];
  #longest: number;
  #seen = 0;

  /** @param streamer the row's streamer; @param stops non-empty strings. */
  constructor(streamer: TextStreamer, stops: readonly string[]) {
    this.#streamer = streamer;
    this.#stops = stops;
    this.#longest = Math.max(0, ...stops.map((s) => s.length));
  }

  /** Feeds the row's newest token; true once the text contains a stop string. */
  push(token: number): boolean {
    this.#streamer.push(token);
    const text = this.#streamer.text;
    const hit = findStop(text, this.#stops, this.#seen - this.#longest + 1) >= 0;
    this.#seen = text.length;
    return hit;
  }
}

/**
 * The text of one generating row as safe chunks: complete characters only, and with stop strings, nothing
 * that could be the start of one (held until it is known not to be) and nothing from a stop string on.
 * `stream` and the CLI print what {@link push} returns, then what {@link finish} returns.
 */
export class ChunkedText {
  #streamer: TextStreamer;
  #stops: readonly string[];
  #hold: number;
  #emitted = 0;

  /** @param tokenizer decodes ids; @param promptIds the row's prompt; @param stops stop strings (may be empty). */
  constructor(tokenizer: LoadedTokenizer | null, promptIds: readonly number[], stops: readonly string[] = []) {
    this.#streamer = new TextStreamer(tokenizer, promptIds);
    this.#stops = stops;
    this.#hold = stops.length ? Math.max(...stops.map((s) => s.length)) - 1 : 0;
  }

  /** The text handed out so far. */
  get shown(): string {
    return this.#streamer.text.slice(0, this.#emitted);
  }

  /** Adds one token; returns the text that became safe to show. */
  push(token: number): string {
    this.#streamer.push(token);
    let safe = this.#streamer.text;
    if (this.#stops.length) {
      const at = findStop(safe, this.#stops, this.#emitted - this.#hold);
      safe = at >= 0 ? safe.slice(0, at) : safe.slice(0, Math.max(this.#emitted, safe.length - this.#hold));
    }
    if (safe.length <= this.#emitted) return '';
    const chunk = safe.slice(this.#emitted);
    this.#emitted = safe.length;
    return chunk;
  }

  /**
   * The rest at the end: of `finalText` (the whole text as `generate` reports it) when given and it extends
   * what was shown, else of this streamer's own text cut at a stop string.
   */
  finish(finalText?: string): string {
    const shown = this.shown;
    const final = finalText ?? cutAtStop(this.#streamer.text, this.#stops).text;
    if (final.length <= this.#emitted || !final.startsWith(shown)) return '';
    this.#emitted = final.length;
    return final.slice(shown.length);
  }
}
