// The README's weight-form fidelity table is the one made from the last parity results file
// (parity/results/fidelity.json, written by `npm run parity`, check e).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { fidelityTable, readmeTable, replaceTable, TABLE_END, TABLE_START } from '../../parity/lib/fidelity-table.mjs';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const results = path.join(ROOT, 'parity', 'results', 'fidelity.json');

test('the README fidelity table equals the table of parity/results/fidelity.json', () => {
  const doc = JSON.parse(fs.readFileSync(results, 'utf8'));
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const inReadme = readmeTable(readme);
  assert.ok(inReadme !== null, `README.md lacks the markers ${TABLE_START} ... ${TABLE_END}`);
  assert.fixture(inReadme, fidelityTable(doc));
});

test('the table shows agreement counts and near-ties per form and mode; replaceTable swaps only the block', () => {
  const div = { prompt: 3, agree: false, position: 7, gap: 2e-4, cutoffDistance: null, nearTie: true };
  const doc = {
    date: '2026-01-02T00:00:00.000Z',
    params: { newTokens: 32, alpha: 0.1, amateurLayers: [8, 15], nearTie: 1e-3, prompts: 21 },
    forms: {
      q4: {
        modes: { plain: { exact: 20, nearTies: 1, agree: 21, of: 21, divergences: [div] }, acd8: { exact: 21, nearTies: 0, agree: 21, of: 21, divergences: [] }, acd15: { exact: 19, nearTies: 0, agree: 19, of: 21, divergences: [] } },
        layers: [1, 2, 3], layerHiddenMaxAbsDiff: [0, 0.5, 0.25], logitsMaxAbsDiff: 0.125,
      },
    },
  };
  const t = fidelityTable(doc);
  assert.ok(t.includes('| q4 | 21/21 (1 near-tie) | 21/21 | 19/21 | 0.5 (2) | 0.125 |'), t);
  const before = `intro\n${TABLE_START}\nold\n${TABLE_END}\nafter\n`;
  assert.is(replaceTable(before, t), `intro\n${TABLE_START}\n${t}\n${TABLE_END}\nafter\n`);
});

test.run();
