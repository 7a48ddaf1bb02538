/**
 * `writeReport`: a markdown report of the results in a folder (the `<task>.json` files {@link evaluate}
 * writes), with tables shaped like the paper's Tables 1, 4, 5 and 6 and SVG plots shaped like its Figures 2-4
 * (metric per exit layer: each exit alone, contrast with each amateur, the plain model as a line, the chosen
 * amateur marked), each stamped with model, data, settings, date, machine and library version. Where contrast
 * does not help, the text says so with the numbers.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';

import { EvalError } from './errors';
import { TASKS, type EvalResult, type Task } from './evaluate';
import type { OpenEndedConfigResult } from './open-ended';
import { lineChart } from './svg';

/** Options of {@link writeReport}. */
export interface ReportOptions {
  /** Folder with the results (default `eval-results`). */
  results?: string;
  /** Folder to write `report.md` and the SVG plots into (default: the results folder). */
  out?: string;
  /** Extra paragraphs appended verbatim (e.g. a peer comparison measured elsewhere). */
  notes?: string[];
}

/** The paper's GPT-2 Medium figures (Gera et al. 2023) quoted for comparison. */
export const PAPER_FIGURES = {
  lambadaAccuracy: { plain: 0.43, acd: 0.55 },
  wikitextGreedyDiversity: { plain: 0.21, acd: 0.75 },
  wikitextGreedyCoherence: { plain: 0.59, acd: 0.63 },
} as const;

function readResultFile(f: string): EvalResult {
  try {
    return JSON.parse(readFileSync(f, 'utf8'), (_k, v) => (v === 'NaN' ? NaN : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v)) as EvalResult;
  } catch {
    throw new EvalError('EVAL_DATA_MALFORMED', `${f}: not a result file (invalid JSON)`);
  }
}

/** Every result file of `task` in `dir` (`<task>.json`, `<task>-*.json`; see resultName), in name order. */
function readResults(dir: string, task: Task): EvalResult[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => n.endsWith('.json') && (n === `${task}.json` || n.startsWith(`${task}-`)))
    .sort()
    .map((n) => readResultFile(join(dir, n)))
    .filter((r) => r.task === task);
}

const layerCount = (r: EvalResult) => (r.settings.candidates ? -1 : r.settings.amateurLayers.length);

/**
 * The main result of a task: the one with the most items (a run on a few items does not stand for the task),
 * then the most contrast layers (a sweep).
 */
function mainResult(rs: readonly EvalResult[]): EvalResult | undefined {
  return [...rs].sort((a, b) => b.data.items - a.data.items || layerCount(b) - layerCount(a))[0];
}

/** The per-layer result of a task: the one with the most contrast layers (a sweep), then the most items. */
function sweepResult(rs: readonly EvalResult[]): EvalResult | undefined {
  return [...rs].sort((a, b) => layerCount(b) - layerCount(a) || b.data.items - a.data.items)[0];
}

/** How a result's contrasted configuration is named in tables: `acd (amateur 15)`, `dola (layers 15..29)`, `acd, amateur auto (layers ...)`. */
export function contrastLabel(r: Pick<EvalResult, 'settings'>): string {
  const s = r.settings;
  const range = (ls: readonly number[]) => (ls.length > 3 ? `${ls[0]}..${ls[ls.length - 1]}` : ls.join(','));
  if (s.candidates) return s.mode === 'dola' ? `dola (layers ${range(s.candidates)})` : `${s.mode}, amateur auto (layers ${range(s.candidates)})`;
  return `${s.mode} (amateur ${s.amateurLayers[0]})`;
}

/** The model as tables name it: its name, with the weights' form when the result records it. */
function modelLabel(r: EvalResult): string {
  return r.model.form && !r.model.name.includes(r.model.form) ? `${r.model.name} (${r.model.form} form)` : r.model.name;
}

/** The share of each layer in a histogram (layer -> count), as [layer, share] sorted by layer. */
function shares(h: Record<number, number>): [number, number][] {
  const total = Object.values(h).reduce((a, b) => a + b, 0);
  return Object.entries(h).map(([L, n]): [number, number] => [Number(L), total ? n / total : 0]).sort((a, b) => a[0] - b[0]);
}

const n3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : String(x));
const n2 = (x: number) => (!Number.isFinite(x) ? String(x) : Math.abs(x) >= 1e5 ? x.toExponential(2) : x.toFixed(2));
const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : String(x));

function stampLines(r: EvalResult): string[] {
  const s = r.settings;
  return [
    `model ${modelLabel(r)} (${r.model.numLayers} layers); data ${basename(r.data.file)}, ${r.data.items} of ${r.data.available} items${r.data.limited ? ' (limited)' : ''}`,
    `mode ${s.mode}, alpha ${s.alpha}, ${s.candidates ? `candidate layers ${s.candidates.join(',')} (chosen per position)${s.amateurLayers.length ? `, fixed amateur ${s.amateurLayers.join(',')}` : ''}` : `amateur layers ${s.amateurLayers.length > 3 ? `${s.amateurLayers[0]}..${s.amateurLayers[s.amateurLayers.length - 1]}` : s.amateurLayers.join(',')}`}; ` +
      `${r.stamp.date.slice(0, 16)}Z; ${r.stamp.cpu}, ${r.stamp.cores} cores, ${r.stamp.isa}, load ${r.stamp.load}; autocontrast ${r.stamp.library}`,
  ];
}

/** A perplexity per layer on a log axis: each exit alone, contrast with it as the amateur, plain as a line. */
function perplexityPerLayer(r: EvalResult, title: string, yLabel: string, plain: number, exits: [number, number][], contrast: [number, number][]): string {
  return lineChart({
    title,
    xLabel: 'exit layer (alone) / amateur layer (contrasted)',
    yLabel,
    logY: true,
    series: [
      { name: 'exit alone', points: exits, color: '#1f77b4', dashed: true },
      { name: `${r.settings.mode.toUpperCase()} with amateur`, points: contrast, color: '#d62728' },
    ],
    hlines: [{ y: plain, name: 'plain (final layer)', color: '#222' }],
    stamp: stampLines(r),
  });
}

function stampText(r: EvalResult): string {
  const cached = r.resumedItems ? `; ${r.resumedItems} items from an earlier run's cache` : '';
  return `_${stampLines(r).join('; ')}; ${r.seconds.toFixed(0)} s${cached}._`;
}

/** Writes `report.md` and the plots; returns the report's path. @throws EvalError `EVAL_NO_RESULTS`. */
export function writeReport(options: ReportOptions = {}): string {
  const dir = resolve(options.results ?? 'eval-results');
  const out = resolve(options.out ?? dir);
  const all = new Map<Task, EvalResult[]>(TASKS.map((t) => [t, readResults(dir, t)]));
  const results = new Map<Task, EvalResult>();
  for (const t of ['lambada', 'wikitext'] as const) {
    const m = mainResult(all.get(t)!);
    if (m) results.set(t, m);
  }
  const oes = all.get('open-ended')!;
  if (oes.length) results.set('open-ended', oes[0]);
  if (results.size === 0) throw new EvalError('EVAL_NO_RESULTS', `no results in ${dir} (run "autocontrast eval <task> --out ${dir}" first)`);
  mkdirSync(out, { recursive: true });
  const md: string[] = [];
  const any = [...results.values()][0];
  md.push(`# Auto-contrastive decoding on ${modelLabel(any)}`, '');
  md.push(`Measured by \`autocontrast eval\` and written by \`autocontrast report\` (library ${any.stamp.library}). Every number below comes from the result files in this folder; each table and plot names its model, data, settings, date and machine.`, '');
  const svg = (name: string, body: string) => {
    const tmp = join(out, `.${name}.tmp`);
    writeFileSync(tmp, body);
    renameSync(tmp, join(out, name));
    md.push(`![${name}](${name})`, '');
  };

  const lam = results.get('lambada');
  const wiki = results.get('wikitext');
  if (lam?.lambada || wiki?.wikitext) {
    md.push('## Table 4 shape: LAMBADA and WikiText, plain vs contrasted', '');
    md.push('| data set | metric | plain | contrasted (amateur layer) | change |', '|---|---|---:|---:|---:|');
    if (lam?.lambada) {
      const L = lam.lambada;
      const best = [...L.contrast].sort((a, b) => b.accuracy - a.accuracy)[0];
      const def = L.contrast.find((c) => c.layer === Math.floor(lam.model.numLayers / 2)) ?? best;
      for (const c of best === def ? [def] : [def, best]) {
        md.push(`| LAMBADA | accuracy | ${n3(L.plain.accuracy)} | ${n3(c.accuracy)} (${c.layer}${c === best && c !== def ? ', best' : ''}) | ${c.accuracy >= L.plain.accuracy ? '+' : ''}${n3(c.accuracy - L.plain.accuracy)} (+${c.gained} / -${c.lost} passages) |`);
        md.push(`| LAMBADA | perplexity | ${n2(L.plain.perplexity)} | ${n2(c.perplexity)} (${c.layer}) | ${c.perplexity <= L.plain.perplexity ? 'lower' : 'higher'} |`);
      }
    }
    if (wiki?.wikitext) {
      const W = wiki.wikitext;
      // the default amateur (the middle layer) and the best one; every layer is in the WikiText table below
      const best = [...W.contrast].sort((a, b) => a.wordPerplexity - b.wordPerplexity)[0];
      const def = W.contrast.find((c) => c.layer === Math.floor(wiki.model.numLayers / 2));
      for (const c of [...new Set([def, best])].filter((x): x is NonNullable<typeof x> => !!x)) {
        md.push(`| WikiText-2 | word perplexity | ${n2(W.plain.wordPerplexity)} | ${n2(c.wordPerplexity)} (${c.layer}${c === best && c !== def ? ', best' : ''}) | ${c.wordPerplexity <= W.plain.wordPerplexity ? 'lower' : 'higher'} |`);
      }
    }
    md.push('');
    if (lam) md.push(stampText(lam), '');
    if (wiki) md.push(stampText(wiki), '');
  }

  if (lam?.lambada) {
    const L = lam.lambada;
    md.push('## Table 6 shape: LAMBADA per layer (each exit alone; contrast with that exit as the amateur)', '');
    md.push('| layer | exit alone: accuracy | exit alone: perplexity | contrasted: accuracy | contrasted: perplexity | passages gained / lost vs plain |', '|---:|---:|---:|---:|---:|---:|');
    const layers = [...new Set([...L.exits.map((e) => e.layer), ...L.contrast.map((c) => c.layer)])].sort((a, b) => a - b);
    for (const layer of layers) {
      const e = L.exits.find((x) => x.layer === layer);
      const c = L.contrast.find((x) => x.layer === layer);
      md.push(`| ${layer} | ${e ? n3(e.accuracy) : ''} | ${e ? n2(e.perplexity) : ''} | ${c ? n3(c.accuracy) : ''} | ${c ? n2(c.perplexity) : ''} | ${c ? `+${c.gained} / -${c.lost}` : ''} |`);
    }
    md.push(`| plain (final layer) | ${n3(L.plain.accuracy)} | ${n2(L.plain.perplexity)} | | | |`, '');
    const helped = L.contrast.filter((c) => c.accuracy > L.plain.accuracy);
    const best = [...L.contrast].sort((a, b) => b.accuracy - a.accuracy)[0];
    if (best) {
      md.push(helped.length
        ? `Contrast raises LAMBADA accuracy over the plain model (${n3(L.plain.accuracy)}) with ${helped.length} of ${L.contrast.length} amateur layers; the best is layer ${best.layer} (${n3(best.accuracy)}, +${best.gained} / -${best.lost} passages).`
        : `Contrast does not raise LAMBADA accuracy on this model: the plain model scores ${n3(L.plain.accuracy)}, the best amateur (layer ${best.layer}) ${n3(best.accuracy)}.`);
      const ppl = L.contrast.filter((c) => c.perplexity < L.plain.perplexity);
      md.push(ppl.length
        ? ` Perplexity is lower than plain (${n2(L.plain.perplexity)}) with ${ppl.length} amateur layers.`
        : ` Perplexity is higher than plain (${n2(L.plain.perplexity)}) with every amateur layer: ACD moves probability mass inside the head, and when the right word is not the expert's favourite the contrast often pushes it further down.`, '');
    }
    const plainLine = [{ y: L.plain.accuracy, name: 'plain (final layer)', color: '#222' }];
    const def = L.contrast.find((c) => c.layer === Math.floor(lam.model.numLayers / 2));
    svg('lambada-accuracy.svg', lineChart({
      title: 'LAMBADA accuracy per exit layer (Figure 2 shape)',
      xLabel: 'exit layer (alone) / amateur layer (contrasted)',
      yLabel: 'accuracy',
      series: [
        { name: 'exit alone', points: L.exits.map((e) => [e.layer, e.accuracy]), color: '#1f77b4', dashed: true },
        { name: `${lam.settings.mode.toUpperCase()} with amateur`, points: L.contrast.map((c) => [c.layer, c.accuracy]), color: '#d62728' },
      ],
      hlines: plainLine,
      marks: [...(best ? [{ x: best.layer, y: best.accuracy, label: `best ${best.layer}` }] : []), ...(def && def !== best ? [{ x: def.layer, y: def.accuracy, label: `default ${def.layer}` }] : [])],
      stamp: stampLines(lam),
    }));
    svg('lambada-perplexity.svg', perplexityPerLayer(lam, 'LAMBADA perplexity per exit layer (Figure 3 shape)', 'perplexity', L.plain.perplexity,
      L.exits.map((e) => [e.layer, e.perplexity]), L.contrast.map((c) => [c.layer, c.perplexity])));
    if (lam.totalSpeed) {
      const t = lam.totalSpeed;
      md.push(`Scoring time of all ${t.items} passages: **${t.seconds.toFixed(0)} s (${(t.seconds / 60).toFixed(1)} minutes)**, ${n2(t.tokensPerSecond)} tokens/s through the model (${t.tokens} tokens, every exit and every contrast included, one forward run per batch of ${lam.settings.batch}${lam.resumedItems ? `; the run was stopped and resumed, and each part's wall time is summed` : ''}).`, '');
    } else if (lam.speed) md.push(`Scoring speed: ${n2(lam.speed.tokensPerSecond)} tokens/s through the model (${lam.speed.tokens} tokens in ${lam.speed.seconds.toFixed(0)} s, every exit and every contrast included, one forward run per batch of ${lam.settings.batch}).`, '');
    md.push(stampText(lam), '');
  }

  const wikis = all.get('wikitext')!.filter((r) => r.wikitext);
  if (wikis.length) {
    md.push('## WikiText-2 (rolling windows)', '');
    const isSweep = (w: EvalResult) => w.wikitext!.contrast.length > 3;
    const plainRuns = wikis.filter((w) => !isSweep(w));
    if (plainRuns.length) {
      md.push('| model | data | articles | distribution | word perplexity | byte perplexity | bits per byte | token perplexity |', '|---|---|---:|---|---:|---:|---:|---:|');
      for (const w of plainRuns) {
        const W = w.wikitext!;
        const head = `| ${modelLabel(w)} | ${basename(w.data.file)} | ${w.data.items} of ${w.data.available}`;
        md.push(`${head} | plain | ${n2(W.plain.wordPerplexity)} | ${n3(W.plain.bytePerplexity)} | ${n3(W.plain.bitsPerByte)} | ${n2(W.plain.tokenPerplexity)} |`);
        for (const e of W.exits) md.push(`${head} | exit ${e.layer} alone | ${n2(e.wordPerplexity)} | ${n3(e.bytePerplexity)} | ${n3(e.bitsPerByte)} | ${n2(e.tokenPerplexity)} |`);
        for (const c of W.contrast) md.push(`${head} | ${w.settings.mode} amateur ${c.layer} | ${n2(c.wordPerplexity)} | ${n3(c.bytePerplexity)} | ${n3(c.bitsPerByte)} | ${n2(c.tokenPerplexity)} |`);
      }
      md.push('');
    }
    for (const w of wikis.filter(isSweep)) {
      const W = w.wikitext!;
      md.push(`Per layer (Figure 4 shape), ${modelLabel(w)}, data ${basename(w.data.file)} (${w.data.items} of ${w.data.available} articles, ${W.plain.tokens} tokens): word perplexity of each exit alone and of ACD with that exit as the amateur; plain ${n2(W.plain.wordPerplexity)}.`, '');
      md.push('| layer | exit alone | contrasted |', '|---:|---:|---:|');
      const layers = [...new Set([...W.exits.map((e) => e.layer), ...W.contrast.map((c) => c.layer)])].sort((a, b) => a - b);
      for (const L of layers) {
        const e = W.exits.find((x) => x.layer === L);
        const c = W.contrast.find((x) => x.layer === L);
        md.push(`| ${L} | ${e ? n2(e.wordPerplexity) : ''} | ${c ? n2(c.wordPerplexity) : ''} |`);
      }
      md.push('');
      const lower = W.contrast.filter((c) => c.wordPerplexity < W.plain.wordPerplexity);
      md.push(lower.length ? `ACD lowers word perplexity below plain with ${lower.length} of ${W.contrast.length} amateur layers here.` : `ACD gives a higher word perplexity than plain (${n2(W.plain.wordPerplexity)}) with every one of the ${W.contrast.length} amateur layers here (lowest ${n2(Math.min(...W.contrast.map((c) => c.wordPerplexity)))}).`, '');
      svg('wikitext-perplexity.svg', perplexityPerLayer(w, 'WikiText-2 word perplexity per exit layer (Figure 4 shape)', 'word perplexity', W.plain.wordPerplexity,
        W.exits.map((e) => [e.layer, e.wordPerplexity]), W.contrast.map((c) => [c.layer, c.wordPerplexity])));
    }
    for (const w of wikis) md.push(`${modelLabel(w)}, ${basename(w.data.file)}: windows of ${w.settings.window} tokens, ${w.settings.stride} new tokens each (the harness's disjoint rolling windows when they are equal); ${w.wikitext!.plain.tokens} tokens scored.`, '', stampText(w), '');
  }

  // Open-ended rows of every run: plain rows are shared by runs that differ in their contrast (the one with the
  // most prompts is shown); contrasted rows are labelled by their run's contrast.
  interface OeRow { set: string; label: string; r: OpenEndedConfigResult; run: EvalResult }
  const oeRows: OeRow[] = [];
  for (const run of oes) {
    for (const r of run.openEnded ?? []) {
      const set = run.settings.set ?? 'wikitext';
      const rp = run.settings.repetitionPenalty ? (r.contrast ? run.settings.repetitionPenalty.contrast : run.settings.repetitionPenalty.plain) : 1;
      const label = (r.contrast ? contrastLabel(run) : 'plain') + (rp !== 1 ? `, repetition penalty ${rp}` : '');
      const same = oeRows.findIndex((x) => x.set === set && x.label === label && x.r.strategy === r.strategy);
      if (same < 0) oeRows.push({ set, label, r, run });
      else if (r.n > oeRows[same].r.n) oeRows[same] = { set, label, r, run };
    }
  }
  const sets = [...new Set(oeRows.map((x) => x.set))];
  const rowLabel = (x: OeRow) => x.label;
  const strategyOrder = ['greedy', 'beam', 'top-k', 'top-p'];
  const oe = results.get('open-ended');
  if (oe && oeRows.length) {
    const coh = (x: number | null | undefined) => (x === null || x === undefined ? 'n/a' : n3(x));
    const fixed = (x: OeRow) => x.label !== 'plain' && !x.run.settings.candidates;
    md.push(`## Table 1 shape: open-ended generation (diversity and coherence), plain vs fixed-layer contrast`, '');
    md.push('| prompts | decoding | prompts run | plain: diversity | contrasted: diversity | at equal length: plain / contrasted | plain: coherence | contrasted: coherence | plain: tokens | contrasted: tokens | contrast |', '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|');
    for (const set of sets) {
      for (const s of strategyOrder) {
        const p = oeRows.find((x) => x.set === set && x.r.strategy === s && x.label === 'plain');
        for (const c of oeRows.filter((x) => x.set === set && x.r.strategy === s && fixed(x))) {
          if (!p) continue;
          const n = p.r.n === c.r.n ? String(p.r.n) : `${p.r.n} / ${c.r.n}`;
          const eq = c.r.equalLength ? `${n3(c.r.equalLength.plain)} / ${n3(c.r.equalLength.contrast)}` : 'n/a';
          md.push(`| ${set} | ${s} | ${n} | ${n3(p.r.diversity)} | ${n3(c.r.diversity)} | ${eq} | ${coh(p.r.coherence)} | ${coh(c.r.coherence)} | ${n2(p.r.meanTokens)} | ${n2(c.r.meanTokens)} | ${c.label} |`);
        }
      }
    }
    md.push('', 'Diversity = (1 - rep-2)(1 - rep-3)(1 - rep-4) over whitespace words, rep-n = 1 - (unique n-grams of each continuation, summed) / (n-grams, summed), as SimCTG\'s script computes it (Su et al. 2022; the script Li et al. 2022 and the paper used, its count of n-grams included). ' +
      'At equal length: each prompt\'s plain and contrasted continuations cut to the shorter one\'s word count, then measured the same way (contrasted continuations often end earlier, and a shorter text repeats less). ' +
      'Coherence = mean cosine similarity of the prompt\'s and the continuation\'s sentence embeddings, computed by the library with **all-MiniLM-L6-v2** ' +
      '(a BERT encoder built by the graph builder, mean pooling, L2 norm; checked against PyTorch in `npm run parity`, check m). ' +
      '**The paper used SimCSE**, so coherence values here are not on the paper\'s scale; compare plain with contrasted within this table.' +
      [...new Set(oes.map((r) => r.coherenceNote).filter(Boolean))].map((x) => ` ${x}.`).join(''), '');
    const worse = oeRows.filter((c) => c.label !== 'plain').filter((c) => {
      const p = oeRows.find((x) => x.set === c.set && x.r.strategy === c.r.strategy && x.label === 'plain');
      return p && c.r.diversity < p.r.diversity;
    });
    if (worse.length) md.push(`Contrast lowers diversity here for: ${worse.map((c) => `${c.set} ${c.r.strategy} (${c.label})`).join(', ')}.`, '');
    md.push('## Table 5 shape: repetition and speed per decoding strategy', '');
    md.push('| prompts | decoding | contrast | prompts run | rep-2 | rep-3 | rep-4 | diversity | coherence | mean tokens | tokens/s |', '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const set of sets) {
      for (const s of strategyOrder) {
        for (const x of oeRows.filter((y) => y.set === set && y.r.strategy === s)) {
          const r = x.r;
          md.push(`| ${set} | ${s} | ${rowLabel(x)} | ${r.n} | ${pct(r.rep2)} | ${pct(r.rep3)} | ${pct(r.rep4)} | ${n3(r.diversity)} | ${r.coherence === null ? 'n/a' : n3(r.coherence)} | ${n2(r.meanTokens)} | ${n2(r.tokensPerSecond)} |`);
        }
      }
    }
    md.push('', 'Samples (first prompt of each set):', '');
    for (const x of oeRows) md.push(`- ${x.set}, ${x.r.strategy}, ${x.label}: ${JSON.stringify(x.r.sample.slice(0, 300))}`);
    md.push('');
    for (const r of oes) md.push(stampText(r), '');
  }

  // DoLa and ACD with the amateur chosen per position / step: LAMBADA and open-ended, and the layers chosen.
  const lamSel = all.get('lambada')!.filter((r) => r.lambada?.selected);
  const oeSel = oeRows.filter((x) => x.r.layers);
  if (lamSel.length || oeSel.length) {
    md.push('## Layer chosen per position: DoLa and ACD with amateur layer auto', '');
    md.push('The premature (DoLa) or amateur (ACD, `--amateur-layer auto`) layer is chosen at every position among the candidate layers: the one whose next-token distribution is farthest from the final layer\'s (DoLa\'s divergence rule, transformers\' buckets). Scoring takes every candidate\'s hidden state at the scored positions from the one forward run; generation chooses per step.', '');
    if (lamSel.length) {
      md.push('| LAMBADA | passages | accuracy | perplexity | passages gained / lost vs plain |', '|---|---:|---:|---:|---:|');
      for (const r of lamSel) {
        const L = r.lambada!;
        const sel = L.selected!;
        md.push(`| plain (${modelLabel(r)}) | ${L.plain.n} | ${n3(L.plain.accuracy)} | ${n2(L.plain.perplexity)} | |`);
        for (const c of L.contrast) md.push(`| ${r.settings.mode === 'dola' ? 'acd' : r.settings.mode} (amateur ${c.layer}), same passages | ${c.n} | ${n3(c.accuracy)} | ${n2(c.perplexity)} | +${c.gained} / -${c.lost} |`);
        md.push(`| **${contrastLabel(r)}** | ${sel.n} | **${n3(sel.accuracy)}** | ${n2(sel.perplexity)} | +${sel.gained} / -${sel.lost} |`);
      }
      md.push('');
      if (lamSel.some((r) => !Number.isFinite(r.lambada!.selected!.perplexity))) {
        md.push('DoLa\'s perplexity is infinite: DoLa gives no probability to tokens outside the plausible head (relative_top 0.1), and some last words fall outside it; its accuracy is what it is measured on.', '');
      }
      for (const r of lamSel) md.push(stampText(r), '');
    }
    if (oeSel.length) {
      // plain from the same run: the same prompts as the contrasted row
      md.push('| prompts | decoding | prompts run | plain: diversity | contrast | diversity | at equal length: plain / contrasted | plain: coherence | coherence | mean tokens |', '|---|---|---:|---:|---|---:|---:|---:|---:|---:|');
      for (const x of oeRows.filter((y) => y.label !== 'plain' && (y.r.layers || oeSel.some((z) => z.set === y.set && z.r.strategy === y.r.strategy)))) {
        const p = x.run.openEnded?.find((r) => r.strategy === x.r.strategy && !r.contrast);
        const eq = x.r.equalLength ? `${n3(x.r.equalLength.plain)} / ${n3(x.r.equalLength.contrast)}` : 'n/a';
        md.push(`| ${x.set} | ${x.r.strategy} | ${x.r.n} | ${p ? n3(p.diversity) : 'n/a'} | ${rowLabel(x)} | ${n3(x.r.diversity)} | ${eq} | ${p?.coherence == null ? 'n/a' : n3(p.coherence)} | ${x.r.coherence === null ? 'n/a' : n3(x.r.coherence)} | ${n2(x.r.meanTokens)} |`);
      }
      md.push('');
    }
    // the histogram of chosen layers, per data set and method
    const hists: { name: string; h: Record<number, number> }[] = [
      ...lamSel.map((r) => ({ name: `LAMBADA, ${contrastLabel(r).split(' (')[0]}`, h: r.lambada!.selected!.layers })),
      ...oeSel.map((x) => ({ name: `${x.set} ${x.r.strategy}, ${x.label.replace(/ \(layers [^)]*\)/, '')}`, h: x.r.layers! })),
    ];
    const layers = [...new Set(hists.flatMap((x) => Object.keys(x.h).map(Number)))].sort((a, b) => a - b);
    md.push('Chosen layers (share of scored / generated tokens choosing each candidate layer):', '');
    md.push(`| layer | ${hists.map((x) => x.name).join(' | ')} |`, `|---:|${hists.map(() => '---:').join('|')}|`);
    for (const L of layers) {
      md.push(`| ${L} | ${hists.map((x) => pct(shares(x.h).find(([l]) => l === L)?.[1] ?? 0)).join(' | ')} |`);
    }
    md.push('');
    const palette = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];
    const first = lamSel[0] ?? oeSel[0].run;
    svg('chosen-layers.svg', lineChart({
      title: 'Layer chosen per position (DoLa / ACD auto): share per candidate layer',
      xLabel: 'candidate layer',
      yLabel: 'share of tokens',
      series: hists.map((x, k) => ({ name: x.name, points: shares(x.h), color: palette[k % palette.length], dashed: k >= palette.length })),
      stamp: stampLines(first),
    }));
  }

  md.push('## Compared with the paper (GPT-2 Medium, Gera et al. 2023)', '');
  const cmp: string[] = [];
  const signed = (x: number) => `${x >= 0 ? '+' : ''}${n3(x)}`;
  if (lam?.lambada) {
    const L = lam.lambada;
    const best = [...L.contrast].sort((a, b) => b.accuracy - a.accuracy)[0];
    const def = L.contrast.find((c) => c.layer === Math.floor(lam.model.numLayers / 2)) ?? best;
    const P = PAPER_FIGURES.lambadaAccuracy;
    if (def) {
      const rel = (a: number, b: number) => `${b >= a ? '+' : ''}${((100 * (b - a)) / a).toFixed(0)}% relative`;
      cmp.push(`- **LAMBADA accuracy**: the paper ${P.plain} -> ${P.acd} (${signed(P.acd - P.plain)}, ${rel(P.plain, P.acd)}); here, ${L.plain.n} passages, ${n3(L.plain.accuracy)} -> ${n3(def.accuracy)} with the middle amateur (layer ${def.layer}; ${signed(def.accuracy - L.plain.accuracy)}, ${rel(L.plain.accuracy, def.accuracy)}, +${def.gained} / -${def.lost} passages)` +
        `${best && best !== def ? ` and ${n3(best.accuracy)} with the best amateur (layer ${best.layer}, ${signed(best.accuracy - L.plain.accuracy)})` : ''}: ` +
        (def.accuracy > L.plain.accuracy ? 'the paper\'s direction holds, at a smaller absolute size.' : '**the paper\'s gain is not reproduced** with the middle amateur.'));
      const ppl = L.contrast.filter((c) => c.perplexity < L.plain.perplexity);
      cmp.push(`- **LAMBADA perplexity** (not reported by the paper for ACD): plain ${n2(L.plain.perplexity)}, with the middle amateur ${n2(def.perplexity)}; ${ppl.length ? `lower than plain with ${ppl.length} of ${L.contrast.length} amateur layers` : `higher than plain with every one of the ${L.contrast.length} amateur layers (lowest ${n2(Math.min(...L.contrast.map((c) => c.perplexity)))})`}. Contrast helps the greedy choice, not the likelihood of the right word.`);
    }
  }
  if (wiki?.wikitext) {
    const W = wiki.wikitext;
    const def = W.contrast.find((c) => c.layer === Math.floor(wiki.model.numLayers / 2)) ?? W.contrast[0];
    if (def) cmp.push(`- **WikiText-2 word perplexity** (${W.plain.n} of ${wiki.data.available} articles): plain ${n2(W.plain.wordPerplexity)}, ACD with amateur ${def.layer} ${n2(def.wordPerplexity)}: ${def.wordPerplexity < W.plain.wordPerplexity ? 'lower' : '**contrast does not help here**; it is far worse'} (the paper reports no perplexity for ACD).`);
  }
  {
    const D = PAPER_FIGURES.wikitextGreedyDiversity;
    const C = PAPER_FIGURES.wikitextGreedyCoherence;
    const greedy = sets.flatMap((set) => {
      const p = oeRows.find((x) => x.set === set && x.r.strategy === 'greedy' && x.label === 'plain')?.r;
      const c = oeRows.find((x) => x.set === set && x.r.strategy === 'greedy' && x.label !== 'plain' && !x.run.settings.candidates);
      return p && c ? [{ set, p, c: c.r, label: c.label }] : [];
    });
    if (greedy.length) {
      const div = greedy.map((g) => `${g.set} ${n3(g.p.diversity)} -> ${n3(g.c.diversity)} (${g.c.n} prompts${g.c.equalLength ? `; at equal length ${n3(g.c.equalLength.plain)} -> ${n3(g.c.equalLength.contrast)}` : ''})`);
      const up = greedy.filter((g) => g.c.diversity > g.p.diversity).length;
      cmp.push(`- **Greedy diversity**: the paper ${D.plain} -> ${D.acd} (WikiText); here (${greedy[0].label}) ${div.join('; ')}. ` +
        (up === greedy.length ? `Contrast raises diversity on all ${greedy.length} sets, well below the paper's size.` : `Contrast raises diversity on ${up} of ${greedy.length} sets.`));
      const coh = greedy.filter((g) => g.p.coherence !== null && g.c.coherence !== null);
      if (coh.length) {
        const rises = coh.filter((g) => g.c.coherence! > g.p.coherence!);
        cmp.push(`- **Greedy coherence**: the paper ${C.plain} -> ${C.acd} (SimCSE); here (all-MiniLM-L6-v2, another scale) ${coh.map((g) => `${g.set} ${n3(g.p.coherence!)} -> ${n3(g.c.coherence!)}`).join('; ')}. ` +
          (rises.length === coh.length ? 'Coherence rises on every set, as in the paper.' : rises.length === 0 ? '**Coherence does not rise on any set**: the paper\'s coherence gain is not reproduced.' : `Coherence rises on ${rises.map((g) => g.set).join(', ')} only; the paper's coherence gain is not reproduced on the others.`));
      }
    }
    const sampled = oeRows.filter((x) => x.label !== 'plain' && !x.run.settings.candidates && (x.r.strategy === 'top-k' || x.r.strategy === 'top-p'));
    const sampledRows = sampled.flatMap((c) => {
      const p = oeRows.find((x) => x.set === c.set && x.r.strategy === c.r.strategy && x.label === 'plain');
      return p ? [`${c.set} ${c.r.strategy} ${n3(p.r.diversity)} -> ${n3(c.r.diversity)} (${c.r.n} prompts)`] : [];
    });
    if (sampledRows.length) cmp.push(`- **Sampling** (top-k 50, top-p 0.95; diversity plain -> contrasted): ${sampledRows.join('; ')}. ${sampled.every((c) => { const p = oeRows.find((x) => x.set === c.set && x.r.strategy === c.r.strategy && x.label === 'plain'); return p && c.r.diversity < p.r.diversity; }) ? '**Contrast lowers diversity under sampling**: the sampled text is already diverse, and ACD sharpens the distribution inside the head.' : ''}`);
  }
  md.push(...(cmp.length ? cmp : ['- (no comparable result in this folder)']), '');
  md.push('The paper used GPT-2 Medium (24 layers, 355M parameters) with the full-precision weights; the model here differs in size, training and precision, so the comparison is of direction and rough size, not of values.', '');
  for (const n of options.notes ?? []) md.push(n, '');
  const file = join(out, 'report.md');
  const tmp = join(out, '.report.md.tmp');
  writeFileSync(tmp, md.join('\n'));
  renameSync(tmp, file);
  return file;
}
