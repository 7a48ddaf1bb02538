// `npm test` and its tiers: runs uvu suites under test/ and ends with the plain summary line
// "N passed, M failed" (uvu's own summary is a multi-line table), keeping uvu's exit code.
//
//   node scripts/run-tests.mjs            every tier (what `npm test` and CI run)
//   node scripts/run-tests.mjs unit       seconds, TypeScript build only (no native addon, no ONNX Runtime model runs)
//   node scripts/run-tests.mjs native     the addon: kernels, the C++ test binary, the decode runtime
//   node scripts/run-tests.mjs integration  model folders end to end: conversion, generation, the CLI, packaging
//
// Each test folder belongs to exactly one tier; a folder in none fails the run (so no suite is silently left out).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const TIERS = {
  unit: ['unit', 'decoding', 'import', 'graph', 'parity'],
  native: ['kernel', 'native', 'runtime'],
  integration: ['convert', 'generate', 'cli', 'server', 'train', 'eval', 'packaging'],
};

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const uvu = join(root, 'node_modules', 'uvu', 'bin.js');
const [first, ...rest] = process.argv.slice(2);
const tier = first && !first.startsWith('-') ? first : undefined;
const extra = tier ? rest : process.argv.slice(2);
if (tier && !TIERS[tier]) {
  console.error(`unknown test tier "${tier}" (tiers: ${Object.keys(TIERS).join(', ')})`);
  process.exit(2);
}
const assigned = new Set(Object.values(TIERS).flat());
const folders = fs.readdirSync(join(root, 'test'), { withFileTypes: true }).filter((d) => d.isDirectory() && d.name !== 'helpers').map((d) => d.name);
const stray = folders.filter((f) => !assigned.has(f) && fs.readdirSync(join(root, 'test', f)).some((n) => n.endsWith('.test.mjs')));
if (stray.length) {
  console.error(`test folders in no tier (add them to TIERS in scripts/run-tests.mjs): ${stray.join(', ')}`);
  console.log('\n0 passed, 1 failed');
  process.exit(1);
}
const dirs = tier ? TIERS[tier] : Object.values(TIERS).flat();
const pattern = `^(${dirs.join('|')})[\\\\/].*\\.test\\.mjs$`;
const child = spawn(process.execPath, [uvu, 'test', pattern, '-i', 'fixtures', ...extra], {
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
