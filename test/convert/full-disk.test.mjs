// A full disk during conversion: a clear error and nothing left behind (no model folder, no temporary folder).
// The output goes to a 512 KiB tmpfs mounted for the test; where mounting is not allowed (not root, no tmpfs)
// the test says so and is skipped.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import convertPkg from 'autocontrast/convert';
import { graph, writeHfCheckpoint } from './hf-checkpoints.mjs';
import { tempDir } from './helpers.mjs';

const { convert } = convertPkg;

test('conversion onto a full disk fails clearly and leaves no partial output', async () => {
  const base = tempDir('ac-full-disk-');
  const mnt = path.join(base, 'small');
  fs.mkdirSync(mnt);
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', mnt], { encoding: 'utf8' });
  if (m.status !== 0) {
    console.log(`  skipped: cannot mount a small tmpfs to fill (${(m.stderr || m.error?.message || 'mount failed').trim()})`);
    return;
  }
  try {
    // About 1.2 MB of float32 weights: more than the 512 KiB the disk holds.
    const cfg = { ...graph.TINY_GPT2_CONFIG, vocabSize: 4096, hiddenSize: 64, intermediateSize: 128, numHeads: 2 };
    const ckpt = path.join(base, 'ckpt');
    writeHfCheckpoint(ckpt, cfg);
    const out = path.join(mnt, 'model');
    let error;
    try {
      await convert(ckpt, { out, exits: [1] });
    } catch (e) {
      error = e;
    }
    assert.ok(error, 'conversion onto a full disk must fail');
    console.log(`  error: ${error.message}`);
    assert.match(String(error.message), /not enough disk space to write the model folder .* \(it needs about \d+ MB\)/, `message: ${error.message}`);
    assert.not.ok(fs.existsSync(out), 'no model folder');
    assert.equal(fs.readdirSync(mnt), [], `nothing left on the disk: ${fs.readdirSync(mnt).join(', ')}`);
  } finally {
    execFileSync('umount', [mnt]);
    fs.rmSync(base, { recursive: true, force: true });
  }
});

test.run();
