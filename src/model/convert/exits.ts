/**
 * Exit requests of a conversion: parsing `--exits` lists and building logit-lens / trained-head
 * exit specifications.
 */
import type { ExitSpec } from '../graph/decoder-config';
import { ConvertError } from './convert-error';

/**
 * Parses a comma-separated layer list (`"4,8,12"`, or `"all"` for every layer 1..numLayers).
 * @throws {ConvertError} for anything else.
 */
export function parseExitList(text: string): number[] | 'all' {
  const t = text.trim();
  if (t === 'all') return 'all';
  const out: number[] = [];
  for (const part of t.split(',')) {
    const p = part.trim();
    if (!/^\d+$/.test(p)) throw new ConvertError(`invalid exit layer "${part}" (expected a comma-separated list of layer numbers, or "all")`);
    out.push(Number(p));
  }
  return out;
}

/** Checks exit layers against the model depth and returns them sorted without duplicates. */
export function checkExitLayers(layers: readonly number[], numLayers: number): number[] {
  for (const l of layers) {
    if (!Number.isInteger(l) || l < 0 || l > numLayers) {
      throw new ConvertError(`exit layer ${l} is out of range: this model has ${numLayers} layers (exits 0..${numLayers})`);
    }
  }
  return [...new Set(layers)].sort((a, b) => a - b);
}

/** Every layer 1..numLayers. */
export function allLayers(numLayers: number): number[] {
  return Array.from({ length: numLayers }, (_, i) => i + 1);
}

/** transformers' DoLa exits at `layers`: the model's head on the residual stream without the final norm. */
export function rawExits(layers: readonly number[]): ExitSpec[] {
  return layers.map((layer) => ({ layer, kind: 'raw' as const }));
}

/** Logit-lens exits at `layers`. */
export function lensExits(layers: readonly number[]): ExitSpec[] {
  return layers.map((layer) => ({ layer, kind: 'lens' as const }));
}
