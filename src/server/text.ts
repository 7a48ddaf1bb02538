/**
 * The text of one choice as its tokens come: decoded incrementally (a character split over tokens is held back
 * until complete), cut at the first stop string (text that could start a stop string is held back too).
 */
import { continuationText } from '../generate/generate';
import type { ContrastModel } from '../generate/model';

/** Incremental text of one generated sequence. */
export class ChoiceText {
  #model: ContrastModel;
  #prompt: number[];
  #stops: readonly string[];
  #hold: number;
  #gen: number[] = [];
  /** Text handed out so far (by {@link next}). */
  emitted = '';
  /** The full text once a stop string matched (cut before it), else null. */
  stoppedText: string | null = null;

  constructor(model: ContrastModel, prompt: number[], stops: readonly string[]) {
    this.#model = model;
    this.#prompt = prompt;
    this.#stops = stops;
    this.#hold = stops.length ? Math.max(...stops.map((s) => s.length)) - 1 : 0;
  }

  /** The whole text so far, cut at a stop string. */
  #text(): { text: string; stopped: boolean } {
    const full = continuationText(this.#model, this.#prompt, this.#gen);
    let at = -1;
    for (const s of this.#stops) {
      const i = full.indexOf(s);
      if (i >= 0 && (at < 0 || i < at)) at = i;
    }
    return at < 0 ? { text: full, stopped: false } : { text: full.slice(0, at), stopped: true };
  }

  /** Adds a token; returns the new safe text (maybe empty) and whether a stop string matched. */
  push(token: number): { delta: string; stopped: boolean } {
    this.#gen.push(token);
    const { text, stopped } = this.#text();
    if (stopped) {
      this.stoppedText = text;
      return { delta: this.#advance(text), stopped: true };
    }
    let safe = text.replace(/\uFFFD+$/, '');
    if (this.#hold) safe = safe.slice(0, Math.max(this.emitted.length, safe.length - this.#hold));
    return { delta: this.#advance(safe), stopped: false };
  }

  /** What is left to hand out at the end (held-back text), and the final text. */
  finish(): { delta: string; text: string } {
    const text = this.stoppedText ?? this.#text().text;
    return { delta: this.#advance(text), text };
  }

  #advance(upTo: string): string {
    if (upTo.length <= this.emitted.length || !upTo.startsWith(this.emitted)) return '';
    const d = upTo.slice(this.emitted.length);
    this.emitted = upTo;
    return d;
  }
}

/**
 * The text of one token id as it reads after `prev` (the token before it, when known): decoded with that
 * context so that a leading space a tokenizer folds into the token (SentencePiece's `▁`, byte-level `Ġ`) shows.
 */
export function tokenText(model: ContrastModel, token: number, prev?: number): string {
  const tok = model.tokenizer;
  if (!tok) return `<${token}>`;
  const opts = { skipSpecialTokens: false };
  if (prev === undefined) return tok.decode([token], opts);
  const before = tok.decode([prev], opts);
  const both = tok.decode([prev, token], opts);
  return both.startsWith(before) ? both.slice(before.length) : tok.decode([token], opts);
}
