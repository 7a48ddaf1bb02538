/**
 * Structural checks of a parsed manifest (types, ranges, consistency), independent of the files.
 */
import { MANIFEST_FILE, MANIFEST_FORMAT, MANIFEST_VERSION, type ModelManifest } from './manifest-types';

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function posInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

/**
 * Checks that `value` (parsed JSON) is a well-formed {@link ModelManifest}. Returns one line per
 * problem (empty when it is well formed).
 */
export function checkManifest(value: unknown): string[] {
  const p: string[] = [];
  const f = MANIFEST_FILE;
  if (!isObj(value)) return [`${f} must hold a JSON object`];
  const m = value;
  if (m.format !== MANIFEST_FORMAT) p.push(`${f}: "format" must be "${MANIFEST_FORMAT}" (got ${JSON.stringify(m.format)})`);
  if (m.formatVersion !== MANIFEST_VERSION) {
    p.push(`${f}: "formatVersion" ${JSON.stringify(m.formatVersion)} is not supported (this version reads ${MANIFEST_VERSION})`);
  }
  if (m.architecture !== 'gpt2' && m.architecture !== 'llama') {
    p.push(`${f}: "architecture" must be "gpt2" or "llama" (got ${JSON.stringify(m.architecture)})`);
  }
  for (const k of ['numLayers', 'hiddenSize', 'numHeads', 'numKvHeads', 'headDim', 'vocabSize', 'contextLength']) {
    if (!posInt(m[k])) p.push(`${f}: "${k}" must be a positive integer (got ${JSON.stringify(m[k])})`);
  }
  if (posInt(m.numHeads) && posInt(m.numKvHeads) && m.numHeads % m.numKvHeads !== 0) {
    p.push(`${f}: "numKvHeads" (${m.numKvHeads}) must divide "numHeads" (${m.numHeads})`);
  }
  if (!isObj(m.specialTokens)) p.push(`${f}: "specialTokens" must be an object`);
  else {
    for (const [k, v] of Object.entries(m.specialTokens)) {
      const ok = k === 'eos' ? Array.isArray(v) && v.every((x) => Number.isInteger(x) && x >= 0) : Number.isInteger(v) && (v as number) >= 0;
      if (!ok) p.push(`${f}: specialTokens.${k} must be ${k === 'eos' ? 'a list of token ids' : 'a token id'}`);
    }
  }
  const g = m.graph;
  if (!isObj(g)) p.push(`${f}: "graph" must be an object`);
  else {
    if (typeof g.file !== 'string' || !g.file) p.push(`${f}: graph.file must be a file name`);
    if (g.externalData !== null && typeof g.externalData !== 'string') p.push(`${f}: graph.externalData must be a file name or null`);
    if (g.logitPositions !== 'all' && g.logitPositions !== 'last' && g.logitPositions !== 'input') {
      p.push(`${f}: graph.logitPositions must be "all", "last" or "input" (got ${JSON.stringify(g.logitPositions)})`);
    }
    if (!isObj(g.io)) p.push(`${f}: graph.io must be an object`);
    else {
      for (const k of ['inputIds', 'attentionMask', 'positionIds', 'pastKey', 'pastValue', 'logits', 'presentKey', 'presentValue']) {
        if (typeof g.io[k] !== 'string') p.push(`${f}: graph.io.${k} must be a name`);
      }
      for (const k of ['pastKey', 'pastValue', 'presentKey', 'presentValue']) {
        if (typeof g.io[k] === 'string' && !(g.io[k] as string).includes('{i}')) p.push(`${f}: graph.io.${k} must contain "{i}"`);
      }
      if (g.logitPositions === 'input' && typeof g.io.numLogitsToKeep !== 'string') {
        p.push(`${f}: graph.io.numLogitsToKeep must be a name when logitPositions is "input"`);
      }
    }
  }
  if (!Array.isArray(m.exits)) p.push(`${f}: "exits" must be a list`);
  else {
    const seen = new Set<number>();
    m.exits.forEach((e: unknown, i) => {
      if (!isObj(e)) return void p.push(`${f}: exits[${i}] must be an object`);
      const L = e.layer;
      if (typeof L !== 'number' || !Number.isInteger(L)) return void p.push(`${f}: exits[${i}].layer must be an integer`);
      if (posInt(m.numLayers) && (L < 0 || L > m.numLayers)) {
        p.push(`${f}: exit layer ${L} is out of range: layers are 0..${m.numLayers} (0 = embeddings, ${m.numLayers} = last block)`);
      }
      if (seen.has(L)) p.push(`${f}: exit layer ${L} is listed twice`);
      seen.add(L);
      if (e.kind !== 'lens' && e.kind !== 'head' && e.kind !== 'conversion' && e.kind !== 'raw') {
        p.push(`${f}: exit layer ${L}: kind must be "lens", "head", "conversion" or "raw" (got ${JSON.stringify(e.kind)})`);
      }
      for (const k of ['hiddenOutput', 'logitsOutput']) {
        if (e[k] !== undefined && typeof e[k] !== 'string') p.push(`${f}: exit layer ${L}: ${k} must be an output name`);
      }
      if (e.hiddenOutput === undefined && e.logitsOutput === undefined) {
        p.push(`${f}: exit layer ${L} names no graph output (hiddenOutput or logitsOutput)`);
      }
    });
  }
  const t = m.tokenizer;
  if (!isObj(t)) p.push(`${f}: "tokenizer" must be an object`);
  else {
    for (const k of ['file', 'configFile']) {
      if (t[k] !== null && typeof t[k] !== 'string') p.push(`${f}: tokenizer.${k} must be a file name or null`);
    }
  }
  return p;
}

/** Narrows `value` to a manifest when {@link checkManifest} finds no problem. */
export function isModelManifest(value: unknown): value is ModelManifest {
  return checkManifest(value).length === 0;
}
