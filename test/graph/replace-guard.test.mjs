// overwrite: true replaces a model folder, or an empty one, but never a folder of other files.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import graph from 'autocontrast/graph';
import manifest from 'autocontrast/manifest';

const cfg = graph.TINY_GPT2_CONFIG;
const write = (dir) => manifest.writeModelFolder(dir, { config: cfg, weights: graph.tinyDecoderWeights(cfg, 1), overwrite: true });

test('overwrite replaces a model folder and an empty folder', async () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ac-guard-'));
  try {
    const dir = path.join(base, 'm');
    await write(dir);
    await write(dir);
    assert.ok(fs.existsSync(path.join(dir, 'autocontrast.json')));
    const empty = path.join(base, 'empty');
    fs.mkdirSync(empty);
    await write(empty);
    assert.ok(fs.existsSync(path.join(empty, 'model.onnx')));
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});

test('overwrite refuses a folder that holds other files, and leaves it untouched', async () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ac-guard-'));
  try {
    const dir = path.join(base, 'src');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'precious.test.mjs'), 'keep me');
    try {
      await write(dir);
      assert.unreachable('replaced a folder of other files');
    } catch (e) {
      assert.match(e.message, /refusing to replace .*not a model folder/);
    }
    assert.equal(fs.readdirSync(dir), ['precious.test.mjs']);
    assert.equal(fs.readdirSync(base), ['src'], 'no temporary folder left');
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});

test.run();
