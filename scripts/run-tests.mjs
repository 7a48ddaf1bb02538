// `npm test`: runs every uvu suite under test/ and ends with the plain summary line "N passed, M failed"
// (uvu's own summary is a multi-line table), keeping uvu's exit code.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const uvu = join(root, 'node_modules', 'uvu', 'bin.js');
const child = spawn(process.execPath, [uvu, 'test', '\\.test\\.mjs$', '-i', 'fixtures', ...process.argv.slice(2)], {
  cwd: root,
  stdio: ['inherit', 'pipe', 'inherit'],
});
let tail = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString()).slice(-4096);
});
child.on('close', (code, signal) => {
  const plain = tail.replace(/\u001b\[[0-9;]*m/g, '');
  const num = (label) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(plain)?.[1] ?? NaN);
  const total = num('Total'), passed = num('Passed'), skipped = num('Skipped');
  if (Number.isFinite(total) && Number.isFinite(passed)) {
    const failed = total - passed - (Number.isFinite(skipped) ? skipped : 0);
    console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  } else {
    console.log(`\n0 passed, 1 failed (the test runner ended without a summary${signal ? `: ${signal}` : ''})`);
  }
  process.exit(code ?? 1);
});
