/**
 * Session options of the native runtime that are more than a number: `allowSpinning`, whether ONNX Runtime's
 * intra-op pool threads spin while waiting for work. Defined here once (its values, default and meaning) and
 * checked by {@link resolveAllowSpinning}, the one place that validates it (the API's `load` / `loadModel` and
 * the CLI's `--spinning` flag both call it; the addon only re-checks its own surface).
 */
import { InvalidArgTypeError, OutOfRangeError } from '../errors';

/**
 * - `false`: the pool threads sleep between ops (degrades gracefully beside other busy processes);
 * - `true`: they spin (ONNX Runtime's own default: 1.12-1.39x faster decoding when the cores are free, 0.54x
 *   beside two busy processes on 2 cores, bench/results/decode-peers.md);
 * - `'within-run'`: they spin between the ops of one step only (ORT's `session.force_spinning_stop`);
 * - `'auto'`: the runtime measures step times and runs each decode step in a sleeping or a spinning session
 *   over the same graph (the spinning one created when first wanted), choosing the faster as the load changes
 *   (native/runtime/spin_policy.h; bench/results/spinning-auto.md). CPU only: on `device: 'cuda'` it is `false`.
 */
export type AllowSpinning = boolean | 'within-run' | 'auto';

/** The CLI's words for {@link AllowSpinning} (`--spinning WORD`), in the order the help lists them. */
export const SPINNING_WORDS = { off: false, on: true, 'within-run': 'within-run', auto: 'auto' } as const satisfies Record<string, AllowSpinning>;

/** The default of `allowSpinning` (see bench/results/spinning-auto.md for why). */
export const DEFAULT_ALLOW_SPINNING: AllowSpinning = false;

/**
 * Checks a user's `allowSpinning` (API: `true`, `false`, `'within-run'` or `'auto'`; CLI `--spinning`: `off`,
 * `on`, `within-run` or `auto`) and returns it resolved (undefined: {@link DEFAULT_ALLOW_SPINNING}). Errors name
 * what the user wrote (`allowSpinning` or `--spinning`) with codes `ERR_INVALID_ARG_TYPE` / `ERR_OUT_OF_RANGE`.
 */
export function resolveAllowSpinning(value: unknown, naming: 'api' | 'cli' = 'api'): AllowSpinning {
  if (value === undefined) return DEFAULT_ALLOW_SPINNING;
  if (naming === 'cli') {
    if (typeof value === 'string' && Object.hasOwn(SPINNING_WORDS, value)) return SPINNING_WORDS[value as keyof typeof SPINNING_WORDS];
    throw new OutOfRangeError(`--spinning expects ${Object.keys(SPINNING_WORDS).join(', ')}, got ${JSON.stringify(value)}`, 'allowSpinning');
  }
  if (typeof value === 'boolean' || value === 'within-run' || value === 'auto') return value;
  const msg = `allowSpinning must be true, false, 'within-run' or 'auto', got ${typeof value === 'string' ? `'${value}'` : String(value)}`;
  if (typeof value === 'string') throw new OutOfRangeError(msg, 'allowSpinning');
  throw new InvalidArgTypeError(msg, 'allowSpinning');
}
