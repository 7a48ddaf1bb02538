// The hints of a missing model only suggest commands that can work: `pull NAME` for a name pull knows,
// `pull --hub ORG/NAME` for a Hub-style name that is not a path, nothing to pull for a path.
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pullPackaged, PullError, resolveModel } from 'autocontrast/pull';
import { tempDir } from '../convert/helpers.mjs';

const env = { AUTOCONTRAST_CACHE: tempDir('ac-hints-') };
const message = (name, cwd) => {
  const here = process.cwd();
  if (cwd) process.chdir(cwd);
  try {
    resolveModel(name, env);
  } catch (e) {
    assert.instance(e, PullError);
    return e.message;
  } finally {
    process.chdir(here);
  }
  assert.unreachable(`${name} resolved`);
};

test('a name pull knows: pull it', () => {
  assert.match(message('smollm2-135m'), /pull it with: autocontrast pull smollm2-135m\)$/);
});

test('an unknown name: no `pull NAME`, the names pull knows instead', () => {
  const m = message('nosuchmodel');
  assert.not.match(m, /pull nosuchmodel/);
  assert.match(m, /names that pull knows: smollm2-135m; or pull --hub ORG\/NAME; or convert a checkpoint/);
});

test('a missing absolute or relative path: no pull suggested, the path named', () => {
  const dir = tempDir('ac-hints-');
  for (const p of [path.join(dir, 'no', 'such'), '/abs/path', './models/x', '../x']) {
    const m = message(p);
    assert.not.match(m, /autocontrast pull/, m);
    assert.ok(m.includes(`${path.resolve(p)} does not exist`), m);
  }
  // ORG/NAME-shaped but its first part is an existing folder here: a path, not a Hub name.
  fs.mkdirSync(path.join(dir, 'models'));
  const m = message('models/tiny', dir);
  assert.not.match(m, /pull --hub/, m);
  assert.match(m, /does not exist/);
});

test('a Hub-style name that is not a path: pull --hub, worded as a condition', () => {
  const m = message('some-org/some-model', tempDir('ac-hints-'));
  assert.match(m, /if it is a Hugging Face repository, pull it with: autocontrast pull --hub some-org\/some-model/);
});

test('pull with an unknown name lists what pull knows; --hub only for an ORG/NAME', async () => {
  const fail = (name) => pullPackaged(name, { env }).then(() => assert.unreachable(), (e) => e.message);
  assert.is(await fail('nosuchmodel'), 'unknown model "nosuchmodel" (pull knows: smollm2-135m; or pull --hub ORG/NAME)');
  assert.match(await fail('org/model'), /for a Hugging Face repository: pull --hub org\/model\)$/);
});

test.run();
