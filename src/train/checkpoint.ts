/**
 * Checkpoints of a gradient fit, so that an interrupted run resumes where it stopped: the parameters and
 * moment estimates of every layer, the step count, how many training chunks were consumed and the running
 * loss, in one file written atomically (temporary name, then rename). A checkpoint belongs to one run: its
 * `key` (model, method, layers, data hash, settings) must match to be resumed.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { FitError } from './fit-error';

/** The state saved. */
export interface CheckpointState {
  /** Identity of the run (checked on resume). */
  readonly key: string;
  /** Optimiser steps done. */
  readonly step: number;
  /** Training chunks consumed. */
  readonly chunks: number;
  /** Sum and count of the training loss so far (for the progress line). */
  readonly lossSum: number;
  readonly lossRows: number;
  /**
   * Interrupted inside a step: the rows accumulated so far (their gradient sums are among `arrays` as
   * `L.main.grad` / `L.bias.grad`); absent at a step boundary.
   */
  readonly rows?: number;
  /** Named float32 arrays (parameters and moments). */
  readonly arrays: ReadonlyMap<string, Float32Array>;
}

const MAGIC = 'ACFITCK1';

/** Writes `state` to `file` atomically. */
export async function saveCheckpoint(file: string, state: CheckpointState): Promise<void> {
  const header = Buffer.from(
    JSON.stringify({ key: state.key, step: state.step, chunks: state.chunks, lossSum: state.lossSum, lossRows: state.lossRows, ...(state.rows !== undefined ? { rows: state.rows } : {}), arrays: [...state.arrays].map(([n, a]) => [n, a.length]) }),
  );
  const len = Buffer.alloc(4);
  len.writeUInt32LE(header.length);
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  const fh = await fs.open(tmp, 'w');
  try {
    await fh.write(Buffer.from(MAGIC));
    await fh.write(len);
    await fh.write(header);
    for (const a of state.arrays.values()) await fh.write(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    await fh.sync();
  } catch (e) {
    await fh.close();
    await fs.rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  await fs.rename(tmp, file);
}

/**
 * Reads a checkpoint, or returns null when `file` does not exist.
 * @throws {FitError} E_FIT_RESUME when the file is not a checkpoint or belongs to another run.
 */
export async function loadCheckpoint(file: string, key: string): Promise<CheckpointState | null> {
  let buf: Buffer;
  try {
    buf = await fs.readFile(file);
  } catch {
    return null;
  }
  if (buf.subarray(0, 8).toString('latin1') !== MAGIC) throw new FitError('E_FIT_RESUME', `${file} is not a fit-exits checkpoint`);
  const n = buf.readUInt32LE(8);
  const h = JSON.parse(buf.subarray(12, 12 + n).toString('utf8')) as { key: string; step: number; chunks: number; lossSum: number; lossRows: number; rows?: number; arrays: [string, number][] };
  if (h.key !== key) {
    throw new FitError('E_FIT_RESUME', `${file} belongs to another run (different model, method, layers, data or settings); remove it or give another --checkpoint-dir`);
  }
  const arrays = new Map<string, Float32Array>();
  let off = 12 + n;
  for (const [name, len] of h.arrays) {
    const copy = new Float32Array(len);
    new Uint8Array(copy.buffer).set(buf.subarray(off, off + len * 4));
    arrays.set(name, copy);
    off += len * 4;
  }
  return { key: h.key, step: h.step, chunks: h.chunks, lossSum: h.lossSum, lossRows: h.lossRows, ...(h.rows !== undefined ? { rows: h.rows } : {}), arrays };
}

/** The checkpoint file of a run in `dir`. */
export function checkpointFile(dir: string): string {
  return path.join(dir, 'fit-exits.ckpt');
}
