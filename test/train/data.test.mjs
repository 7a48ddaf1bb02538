// Fitting data through a real tokenizer (stories260K): text and JSONL files, the evaluation sets refused by
// content (whole files, CRLF copies and excerpts), data shorter than a chunk, self-distillation, the CLI command
// (progress, table, one-line coded errors) and a full disk.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import convertPkg from 'autocontrast/convert';
import { repoRoot, sharedData } from '../import/helpers.mjs';
import { runtimeSkip, tempDir, trainPkg } from './helpers.mjs';

const skip = runtimeSkip();
const data = skip ? null : sharedData('exit fitting on stories260K');
const MAIN = path.join(repoRoot, 'dist', 'cli', 'main.js');
const { fitExits, FitError } = trainPkg;

let folder;
async function stories() {
  if (folder) return folder;
  folder = path.join(tempDir(), 'stories');
  await convertPkg.convert(path.join(data, 'gguf', 'models', 'stories260K.gguf'), { out: folder, exitOutputs: 'hidden' });
  return folder;
}

const SENTENCES = [
  'Once upon a time, there was a little girl named Lily. She liked to play in the park with her red ball.',
  'One day, a big dog came to the park. The dog was friendly and wanted to play too.',
  'Tom had a small boat. He took it to the pond and watched it float on the water.',
  'The sun was warm and the birds were singing. Mom made a cake for the party.',
];
function storyFile(dir, name, repeats) {
  const f = path.join(dir, name);
  const lines = [];
  for (let i = 0; i < repeats; i++) lines.push(SENTENCES[i % 4] + ' ' + SENTENCES[(i * 3 + 1) % 4]);
  fs.writeFileSync(f, lines.join('\n\n'));
  return f;
}

async function code(promise) {
  try {
    await promise;
  } catch (e) {
    assert.instance(e, FitError, e?.stack);
    return e;
  }
  assert.unreachable('expected a FitError');
}

test('evaluation sets are refused by content: whole files, CRLF copies, excerpts', async () => {
  if (!data) return;
  const dir = await stories();
  const tmp = tempDir();
  const lambada = path.join(data, 'lambada', 'lambada_test.jsonl');
  const wiki = path.join(data, 'wikitext', 'wiki.test.raw');
  const crlf = path.join(tmp, 'wiki.txt');
  fs.writeFileSync(crlf, fs.readFileSync(wiki, 'utf8').replace(/\n/g, '\r\n'));
  const excerpt = path.join(tmp, 'passages.txt');
  const texts = fs.readFileSync(lambada, 'utf8').split('\n').filter(Boolean).slice(1000, 1400).map((l) => JSON.parse(l).text);
  fs.writeFileSync(excerpt, texts.join('\n'));
  const jsonl = path.join(tmp, 'stories.jsonl');
  const open = fs.readFileSync(path.join(data, 'open_ended', 'cd_benchmark', 'story.jsonl'), 'utf8').split('\n').slice(50, 150).join('\n');
  fs.writeFileSync(jsonl, open);
  for (const [f, set] of [[lambada, 'lambada'], [crlf, 'wiki.test.raw'], [excerpt, 'lambada'], [jsonl, 'story.jsonl']]) {
    const e = await code(fitExits({ model: dir, layers: [2], method: 'linear', data: [storyFile(tmp, 'ok.txt', 40), f] }));
    assert.is(e.code, 'E_FIT_EVAL_SET', e.message);
    assert.match(e.message, new RegExp(`--data ${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: this is \\(part of\\) the evaluation set .*${set.replace('.', '\\.')}`));
  }
  assert.equal(fs.readdirSync(path.dirname(dir)).sort(), ['stories'], 'nothing written');
});

test('text and JSONL files are chunked and fitted; data shorter than two chunks is refused', async () => {
  if (!data) return;
  const dir = await stories();
  const tmp = tempDir();
  const txt = storyFile(tmp, 'a.txt', 60);
  const jsonl = path.join(tmp, 'b.jsonl');
  fs.writeFileSync(jsonl, SENTENCES.map((s) => JSON.stringify({ text: s, id: 1 })).join('\n'));
  const r = await fitExits({ model: dir, layers: [2, 3], method: 'linear', data: [txt, jsonl], seqLen: 64, out: path.join(tmp, 'out') });
  assert.is(r.data.source, 'files');
  assert.ok(r.data.trainTokens >= 64 && r.data.trainTokens % 64 === 0);
  for (const l of r.layers) assert.ok(l.validationLoss < l.logitLensValidationLoss, `layer ${l.layer}: ${l.validationLoss} vs ${l.logitLensValidationLoss}`);
  const short = path.join(tmp, 'short.txt');
  fs.writeFileSync(short, 'Once upon a time.');
  const e = await code(fitExits({ model: dir, layers: [2], method: 'head', data: [short], seqLen: 64 }));
  assert.is(e.code, 'E_FIT_DATA_SHORT');
  assert.match(e.message, /the data has \d+ tokens: at least two chunks of --seq-len 64 are needed/);
  const bad = path.join(tmp, 'bad.jsonl');
  fs.writeFileSync(bad, '{"text": "fine"}\nnot json\n');
  const e2 = await code(fitExits({ model: dir, layers: [2], method: 'head', data: [bad] }));
  assert.is(e2.code, 'E_FIT_DATA_FILE');
  assert.match(e2.message, /bad\.jsonl: line 2 is not JSON/);
});

test('without data the model samples its own text (self-distillation), reproducibly', async () => {
  if (!data) return;
  const dir = await stories();
  const o = { model: dir, layers: [3], method: 'linear', sampleTokens: 1024, seqLen: 64, seed: 4 };
  const a = await fitExits({ ...o, out: path.join(tempDir(), 'a') });
  const b = await fitExits({ ...o, out: path.join(tempDir(), 'b') });
  assert.is(a.data.source, 'self-distillation');
  assert.is(a.data.trainTokens + a.data.validationTokens, 1024);
  assert.is(a.data.hash, b.data.hash);
  assert.equal(a.layers, b.layers);
  assert.is(a.manifest.exits.find((e) => e.layer === 3).fit.dataSource, 'self-distillation');
});

function cli(args) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('CLI: fit-exits fits into a copy, prints the table; mistakes are one coded line', async () => {
  if (!data) return;
  const dir = await stories();
  const tmp = tempDir();
  const help = cli(['fit-exits', '--help']);
  assert.is(help.code, 0);
  assert.match(help.out, /^Usage: autocontrast fit-exits/);
  const out = path.join(tmp, 'fitted');
  const r = cli(['fit-exits', '--model', dir, '--layers', '2', '--method', 'head', '--data', storyFile(tmp, 's.txt', 60), '--seq-len', '64', '--batch-tokens', '128', '--lr', '1e-2', '--out', out]);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /head exits fitted on \d+ tokens \(files\), \d+ steps/);
  assert.match(r.out, /^\s+2\s+\d+\.\d+ \/ \d+\.\d+/m);
  assert.match(r.err, /fit .*tok\/s ETA/);
  assert.is(JSON.parse(fs.readFileSync(path.join(out, 'autocontrast.json'), 'utf8')).exits.find((e) => e.layer === 2).fit.method, 'head');
  for (const [args, re] of [
    [['--layers', '2', '--method', 'head'], /--model M is required/],
    [['--model', dir, '--layers', '2', '--method', 'ridge'], /--method must be head, lens or linear \(got "ridge"\)/],
    [['--model', dir, '--layers', 'x', '--method', 'head'], /--layers must be a comma-separated list/],
    [['--model', dir, '--layers', '9', '--method', 'head', '--data', 'x.txt'], /layer 9 is out of range: this model has layers 1\.\.5/],
    [['--model', dir, '--layers', '2', '--method', 'head', '--data', path.join(data, 'lambada', 'lambada_test.jsonl')], /evaluation set lambada/],
    [['--model', dir, '--layers', '2', '--method', 'head', '--lr', '-1'], /--lr must be a number > 0/],
  ]) {
    const e = cli(['fit-exits', ...args]);
    assert.is(e.code, 1, e.err);
    const lines = e.err.trim().split('\n');
    assert.is(lines.length, 1, e.err);
    assert.match(lines[0], /^autocontrast: /);
    assert.match(lines[0], re);
  }
});

test('CLI: Ctrl-C during fit-exits saves everything to the default checkpoint folder; the same command resumes', async () => {
  if (!data) return;
  const dir = await stories();
  const tmp = tempDir();
  const env = { ...process.env, AUTOCONTRAST_CACHE: path.join(tmp, 'cache') };
  const args = [MAIN, 'fit-exits', '--model', dir, '--layers', '2', '--method', 'head', '--data', storyFile(tmp, 'big.txt', 4000), '--seq-len', '64', '--batch-tokens', '256', '--out', path.join(tmp, 'fitted')];
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (b) => {
    err += b;
    if (/fit .*tok\/s/.test(err) && !child.killed) child.kill('SIGINT');
  });
  const code = await new Promise((res) => child.on('close', res));
  assert.is(code, 1, err);
  assert.match(err, /stopping after the current chunk and saving a checkpoint/);
  assert.match(err, /E_FIT_INTERRUPTED|interrupted at step \d+ of \d+/);
  const ckRoot = path.join(tmp, 'cache', 'fit-checkpoints');
  const saved = fs.readdirSync(ckRoot).map((d) => path.join(ckRoot, d, 'fit-exits.ckpt')).filter((f) => fs.existsSync(f));
  assert.is(saved.length, 1, 'one checkpoint under the cache folder');
  assert.ok(err.includes(saved[0]), 'the message says where');
  const again = spawnSync(process.execPath, args, { env, encoding: 'utf8' });
  assert.is(again.status, 0, again.stderr);
  assert.match(again.stdout, /head exits fitted on \d+ tokens/);
  assert.not.ok(fs.existsSync(saved[0]), 'the checkpoint is removed once the run completes');
});

test('a full disk: a coded error, the model folder unchanged, nothing left behind', async () => {
  if (!data) return;
  const dir = await stories();
  const base = tempDir('ac-fit-disk-');
  const mnt = path.join(base, 'small');
  fs.mkdirSync(mnt);
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt], { encoding: 'utf8' });
  if (m.status !== 0) {
    console.log(`  skipped: cannot mount a small tmpfs to fill (${(m.stderr || m.error?.message || 'mount failed').trim()})`);
    return;
  }
  try {
    const before = fs.readFileSync(path.join(dir, 'autocontrast.json'), 'utf8');
    const e = await code(fitExits({ model: dir, layers: [2], method: 'head', data: [storyFile(base, 'd.txt', 60)], seqLen: 64, out: path.join(mnt, 'fitted') }));
    assert.is(e.code, 'E_FIT_DISK', e.message);
    assert.match(e.message, /not enough disk space to write the fitted exits into .*fitted .*the model folder is unchanged/);
    assert.equal(fs.readdirSync(mnt), [], `nothing left: ${fs.readdirSync(mnt).join(', ')}`);
    assert.is(fs.readFileSync(path.join(dir, 'autocontrast.json'), 'utf8'), before);
  } finally {
    execFileSync('umount', [mnt]);
  }
});

test.run();
