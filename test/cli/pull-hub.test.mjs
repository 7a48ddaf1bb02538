import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pullHub, PullError, resolveModel } from 'autocontrast/pull';
import { graph, writeHfCheckpoint } from '../convert/hf-checkpoints.mjs';
import { tempDir } from '../convert/helpers.mjs';
import { startHubServer } from './hub-server.mjs';

const REPO = 'tiny-org/tiny-llama';

function checkpoint() {
  const dir = path.join(tempDir(), 'served');
  writeHfCheckpoint(dir, graph.TINY_LLAMA_CONFIG, { shards: 2 });
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), '{}');
  return dir;
}

test('pull --hub: downloads (interrupted download resumes with Range), checks sha256, converts, second call is cached', async () => {
  const served = checkpoint();
  const shard = fs.readdirSync(served).find((f) => f.endsWith('.safetensors'));
  const srv = await startHubServer(REPO, served, { cutFirst: [shard], redirectLfs: true });
  const env = { AUTOCONTRAST_CACHE: tempDir(), HF_ENDPOINT: srv.endpoint, HF_TOKEN: 'secret' };
  try {
    const events = [];
    const res = await pullHub(REPO, { env, onProgress: (p) => events.push(p.phase) });
    assert.is(res.cached, false);
    const m = JSON.parse(fs.readFileSync(path.join(res.dir, 'autocontrast.json'), 'utf8'));
    assert.is(m.numLayers, 3);
    assert.equal(m.exits.map((e) => e.layer), [1, 2, 3]);
    assert.ok(events.includes('download') && events.includes('convert'));
    const resumed = srv.log.filter((r) => r.path === `/cdn/${shard}` && r.range);
    assert.is(resumed.length, 1, 'one resumed request with a Range header');
    assert.ok(Number(/bytes=(\d+)-/.exec(resumed[0].range)[1]) > 0);
    assert.ok(srv.log.filter((r) => r.path.startsWith('/api/')).every((r) => r.auth === 'Bearer secret'));
    assert.not.ok(srv.log.some((r) => r.path.includes('README') || r.path.includes('onnx/')), 'only needed files fetched');
    const downloaded = path.join(env.AUTOCONTRAST_CACHE, 'downloads', 'hub', 'tiny-org--tiny-llama');
    for (const f of fs.readdirSync(served)) assert.equal(fs.readFileSync(path.join(downloaded, f)), fs.readFileSync(path.join(served, f)), f);
    assert.not.ok(fs.readdirSync(downloaded).some((f) => f.endsWith('.part')));
    const n = srv.log.length;
    const again = await pullHub(REPO, { env });
    assert.is(again.cached, true);
    assert.is(srv.log.length, n, 'no request the second time');
    assert.is(resolveModel(REPO, env), res.dir);
  } finally {
    await srv.close();
  }
});

test('pull --hub resumes a .part file left by an earlier run', async () => {
  const served = checkpoint();
  const srv = await startHubServer(REPO, served);
  const env = { AUTOCONTRAST_CACHE: tempDir(), HF_ENDPOINT: srv.endpoint };
  try {
    const shard = fs.readdirSync(served).find((f) => f.endsWith('.safetensors'));
    const dl = path.join(env.AUTOCONTRAST_CACHE, 'downloads', 'hub', 'tiny-org--tiny-llama');
    fs.mkdirSync(dl, { recursive: true });
    const bytes = fs.readFileSync(path.join(served, shard));
    fs.writeFileSync(path.join(dl, `${shard}.part`), bytes.subarray(0, 100));
    await pullHub(REPO, { env });
    const req = srv.log.filter((r) => r.path.endsWith(shard));
    assert.equal(req.map((r) => r.range), ['bytes=100-']);
  } finally {
    await srv.close();
  }
});

test('pull --hub: corrupted transfer fails the sha256 check; unknown repo and unreachable endpoint are clear errors', async () => {
  const served = checkpoint();
  const srv = await startHubServer(REPO, served);
  const env = { AUTOCONTRAST_CACHE: tempDir(), HF_ENDPOINT: srv.endpoint };
  try {
    const shard = fs.readdirSync(served).find((f) => f.endsWith('.safetensors'));
    const dl = path.join(env.AUTOCONTRAST_CACHE, 'downloads', 'hub', 'tiny-org--tiny-llama');
    fs.mkdirSync(dl, { recursive: true });
    fs.writeFileSync(path.join(dl, `${shard}.part`), Buffer.alloc(100, 7)); // wrong first 100 bytes
    await pullHub(REPO, { env }).then(() => assert.unreachable(), (e) => {
      assert.instance(e, PullError);
      assert.match(e.message, /sha256/);
    });
    assert.not.ok(fs.existsSync(path.join(dl, `${shard}.part`)), 'bad partial file removed');
    await pullHub('tiny-org/missing', { env }).then(() => assert.unreachable(), (e) => assert.match(e.message, /HTTP 404/));
    await pullHub('no-slash', { env }).then(() => assert.unreachable(), (e) => assert.match(e.message, /ORG\/NAME/));
  } finally {
    await srv.close();
  }
  await pullHub(REPO, { env: { ...env, HF_ENDPOINT: srv.endpoint } }).then(() => assert.unreachable(), (e) => assert.match(e.message, /cannot reach .*offline/));
});

test.run();
