/**
 * `autocontrast serve --model M [--port 8080 --host 127.0.0.1 ...]`: the OpenAI-compatible server, with
 * continuous batching. SIGTERM / SIGINT stop it gracefully (in-flight requests get --grace seconds) and exit 0.
 */
import type { AddressInfo } from 'node:net';

import { load, type ContrastModel } from '../../generate/model';
import { createServer } from '../../server';
import type { RequestDefaults } from '../../server/validate';
import { optionValue, parseArgs, type ParsedArgs } from '../args';
import { checkedGenerationFlags, generationFlagHelp, generationFlagSpec } from '../generation-flags';
import { UsageError } from '../usage-error';
import { resolveGeneration } from '../../config/generation';
import { resolveAllowSpinning, type AllowSpinning } from '../../config/session';
import { isArgumentError } from '../../errors';

/** Help text of `serve`. */
/** The generation options the server takes as request defaults (flags from the generation configuration). */
const REQUEST_DEFAULT_OPTIONS = ['contrast', 'amateurLayer', 'alpha', 'mode', 'minCandidates', 'dolaLayers', 'dolaHead', 'topK', 'repetitionPenalty'] as const;

/** Help text of `serve`. */
export const SERVE_HELP = `Usage: autocontrast serve --model DIR|NAME [options]

Serves the OpenAI API (POST /v1/completions, POST /v1/chat/completions, GET /v1/models, /health, /metrics)
with contrast as an option of every request. Requests in flight share batched decode steps.

Options:
  --model M             model folder or pulled name; several as NAME=DIR,NAME2=DIR2 (required)
  --host H              address to listen on (default 127.0.0.1: this machine only)
  --port P              port (default 8080; 0 picks a free one)
  --max-batch N         sequences decoded together per model (default 16)
  --max-queue N         sequences waiting for a slot before 429 (default 64)
  --context N           positions per sequence in the batch, prompt + generated (default min(model, 2048))
  --timeout S           per-request limit in seconds (default 0: none)
  --grace S             on SIGTERM/SIGINT, seconds in-flight requests may finish (default 10)
  --max-body BYTES      largest request body (default 1048576)
  --threads N           ONNX Runtime intra-op threads (default: physical cores)
  --spinning S          pool threads spinning: off, on, within-run or auto (each decode step in a sleeping or a
                        spinning session, whichever the measured step times favour); default off
  -h, --help            this help
  Request defaults (a request's own fields win; meanings, defaults and bounds as generate's):
${generationFlagHelp(REQUEST_DEFAULT_OPTIONS)}`;

const SPEC = {
  model: 'value', host: 'value', port: 'value', 'max-batch': 'value', 'max-queue': 'value', context: 'value', timeout: 'value',
  grace: 'value', 'max-body': 'value', threads: 'value', spinning: 'value', help: 'flag', ...generationFlagSpec(REQUEST_DEFAULT_OPTIONS),
} as const;

function num(args: ParsedArgs, name: string, integer: boolean, lo: number): number | undefined {
  const v = optionValue(args, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < lo) {
    throw new UsageError(`serve: --${name} expects ${integer ? 'an integer' : 'a number'} >= ${lo}, got "${v}"`);
  }
  return n;
}

/** NAME=DIR pairs (a bare DIR or name is served under its own name). */
function modelSpecs(value: string | undefined): [string, string][] {
  if (!value) throw new UsageError('serve: --model is required (a model folder or pulled name; several as NAME=DIR,NAME2=DIR2)');
  const out: [string, string][] = value.split(',').map((part) => {
    const eq = part.indexOf('=');
    const [name, src] = eq > 0 ? [part.slice(0, eq), part.slice(eq + 1)] : [part.replace(/\/+$/, '').split('/').pop() ?? part, part];
    if (!name || !src) throw new UsageError(`serve: --model entry "${part}" should be DIR, NAME or NAME=DIR`);
    return [name, src];
  });
  const names = new Set(out.map(([n]) => n));
  if (names.size !== out.length) throw new UsageError('serve: two --model entries have the same name (use NAME=DIR)');
  return out;
}

/** Runs `serve` until SIGTERM/SIGINT. */
export async function runServe(argv: readonly string[]): Promise<void> {
  const args = parseArgs(argv, SPEC, 'serve');
  if (args.options.has('help')) {
    console.log(SERVE_HELP);
    return;
  }
  if (args.positional.length) throw new UsageError(`serve: unexpected argument "${args.positional[0]}" (see autocontrast serve --help)`);
  const o = checkedGenerationFlags(args, 'serve', REQUEST_DEFAULT_OPTIONS);
  // The rules between the flags (--no-contrast with a contrast setting, ...) are the configuration's.
  try {
    resolveGeneration({ ...o, ...(o.topK !== undefined ? { strategy: 'top-k' } : {}) }, 'cli');
  } catch (e) {
    if (isArgumentError(e)) throw new UsageError(`serve: ${e.message}`);
    throw e;
  }
  const defaults: RequestDefaults = o;
  const port = num(args, 'port', true, 0) ?? 8080;
  if (port > 65535) throw new UsageError(`serve: --port must be in [0, 65535], got "${port}"`);
  const host = optionValue(args, 'host') ?? '127.0.0.1';
  const grace = num(args, 'grace', false, 0) ?? 10;
  const threads = num(args, 'threads', true, 1);
  const spinning = optionValue(args, 'spinning');
  let allowSpinning: AllowSpinning | undefined;
  try {
    allowSpinning = spinning === undefined ? undefined : resolveAllowSpinning(spinning, 'cli');
  } catch (e) {
    if (isArgumentError(e)) throw new UsageError(`serve: ${e.message}`);
    throw e;
  }
  const specs = modelSpecs(optionValue(args, 'model'));
  const models: Record<string, ContrastModel> = {};
  for (const [name, src] of specs) {
    models[name] = await load(src, { ...(threads ? { intraOpThreads: threads } : {}), ...(allowSpinning !== undefined ? { allowSpinning } : {}) });
  }
  const server = createServer({
    models, defaults,
    maxBatch: num(args, 'max-batch', true, 1),
    maxQueue: num(args, 'max-queue', true, 0),
    maxContext: num(args, 'context', true, 2),
    timeoutMs: (num(args, 'timeout', false, 0) ?? 0) * 1000,
    maxBodyBytes: num(args, 'max-body', true, 1),
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'EADDRINUSE' ? new UsageError(`serve: ${host}:${port} is already in use (pick another --port)`) : e));
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  console.log(`autocontrast: serving ${Object.keys(models).join(', ')} on http://${shown}:${addr.port}/v1`);
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      console.log(`autocontrast: ${sig}: stopping (in-flight requests get ${grace} s)`);
      server.shutdown(grace * 1000).finally(() => {
        for (const m of Object.values(models)) m.dispose();
        resolve();
      });
    };
    const onTerm = () => stop('SIGTERM');
    const onInt = () => stop('SIGINT');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  });
}
