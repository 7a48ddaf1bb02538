// Tests reach the library the way a user does: through the package entry or its named subpath exports
// (`autocontrast/graph`, ...), resolved by Node's self-reference. A test that needs a module outside the public
// surface says why on the line above the import; this test fails on any internal `dist/` import without it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { repoRoot } from '../helpers/lib.mjs';

const files = (dir) => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
  const p = path.join(dir, e.name);
  if (e.isDirectory()) return e.name === 'fixtures' ? [] : files(p);
  return /\.(mjs|cjs|js)$/.test(e.name) ? [p] : [];
});

/** Internal dist/ imports of the test files under `dir`: those with a reason above them, and those without. */
const scan = (dir) => {
  const unexplained = [];
  let internal = 0;
  for (const f of files(dir)) {
    const lines = fs.readFileSync(f, 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (!/^import\b.*['"](\.\.\/)+dist\//.test(line)) return;
      // the reason is the nearest comment above this line's block of imports
      let j = i - 1;
      while (j >= 0 && lines[j].startsWith('import')) j--;
      if (j >= 0 && /^\/\/.*[Ii]nternal/.test(lines[j])) internal++;
      else unexplained.push(`${path.relative(dir, f)}:${i + 1}: ${line.trim()}`);
    });
  }
  return { internal, unexplained };
};

test('every internal dist/ import in the tests states why', () => {
  const { internal, unexplained } = scan(path.join(repoRoot, 'test'));
  assert.equal(unexplained, [], `imports of dist/ without a reason:\n${unexplained.join('\n')}`);
  assert.ok(internal > 0 && internal < 20, `${internal} explained internal imports`);
});

test('the check flags an unexplained import and accepts an explained one', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ac-imports-'));
  try {
    fs.writeFileSync(path.join(dir, 'a.test.mjs'), "import { test } from 'uvu';\nimport x from '../../dist/model/graph/onnx/protobuf-writer.js';\n");
    fs.writeFileSync(path.join(dir, 'b.test.mjs'), "// Internal module under test: why.\nimport y from '../../dist/train/data.js';\n");
    const r = scan(dir);
    assert.equal(r.unexplained.length, 1);
    assert.ok(r.unexplained[0].startsWith('a.test.mjs:2:'));
    assert.is(r.internal, 1);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
