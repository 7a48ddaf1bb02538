// The README's weight-form fidelity table, made from parity/results/fidelity.json (check e of `npm run parity`).
// run.mjs writes it into the README between the markers below; test/parity/fidelity-table.test.mjs checks that
// the README holds exactly the table of the last results file.

export const TABLE_START = '<!-- fidelity-table:start (written by npm run parity from parity/results/fidelity.json) -->';
export const TABLE_END = '<!-- fidelity-table:end -->';

const num = (x) => (x !== 0 && Math.abs(x) < 1e-3 ? x.toExponential(2) : String(x));
const cell = (m) => `${m.agree}/${m.of}${m.nearTies ? ` (${m.nearTies} near-tie${m.nearTies > 1 ? 's' : ''})` : ''}`;

/** The markdown table (without markers) for a fidelity results document. */
export function fidelityTable(doc) {
  const p = doc.params;
  const modes = ['plain', ...p.amateurLayers.map((L) => `acd${L}`)];
  const lines = [
    `Greedy agreement with the float32 form, ${p.prompts} prompts x ${p.newTokens} new tokens (near-ties: top-two gap, or ACD deciding token's distance to the cut-off, under ${p.nearTie}; they count as agreement); per-layer hidden-state and final-logit max abs differences on one ${p.newTokens}-token continuation (${doc.date.slice(0, 10)}):`,
    '',
    `| weight form | plain | ${p.amateurLayers.map((L) => `ACD layer ${L}`).join(' | ')} | max hidden-state diff (at layer) | logits max diff |`,
    `| --- | --- | ${p.amateurLayers.map(() => '---').join(' | ')} | --- | --- |`,
    '| float32 | reference | ' + p.amateurLayers.map(() => 'reference').join(' | ') + ' | 0 | 0 |',
  ];
  for (const [form, f] of Object.entries(doc.forms)) {
    const h = f.layerHiddenMaxAbsDiff;
    const worst = h.reduce((b, x, i) => (x > h[b] ? i : b), 0);
    lines.push(`| ${form} | ${modes.map((m) => cell(f.modes[m])).join(' | ')} | ${num(h[worst])} (${f.layers[worst]}) | ${num(f.logitsMaxAbsDiff)} |`);
  }
  const hq = doc.headQuant;
  if (hq) {
    const b = (n) => hq.bits[n];
    lines.push('', `A quantised LM head (measured, not built; symmetric, block 32) against the float32 head at ${hq.positions} positions (float32 hidden states, ACD amateur layer ${hq.amateurLayer}, alpha ${p.alpha}): ` +
      [8, 4].map((n) => `${n}-bit: plausibility set changed at ${b(n).plausibilitySetChanged}, ACD choice at ${b(n).acdChoiceChanged}, greedy choice at ${b(n).plainChoiceChanged}`).join('; ') + '.');
  }
  return lines.join('\n');
}

/** The README text with the block between the markers replaced by `table` (throws when the markers are missing). */
export function replaceTable(readme, table) {
  const a = readme.indexOf(TABLE_START);
  const b = readme.indexOf(TABLE_END);
  if (a < 0 || b < a) throw new Error('README has no fidelity table markers');
  return `${readme.slice(0, a + TABLE_START.length)}\n${table}\n${readme.slice(b)}`;
}

/** The table currently in the README (between the markers), or null. */
export function readmeTable(readme) {
  const a = readme.indexOf(TABLE_START);
  const b = readme.indexOf(TABLE_END);
  if (a < 0 || b < a) return null;
  return readme.slice(a + TABLE_START.length, b).trim();
}
