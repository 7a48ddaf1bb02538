/**
 * What every result and report is stamped with: the machine (CPU model, cores, the kernel's instruction set,
 * load), Node.js, ONNX Runtime and library versions, and the date.
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

import { backend } from '../kernel';

/** The machine and software a result was measured with. */
export interface Stamp {
  date: string;
  cpu: string;
  cores: number;
  isa: string;
  memoryGiB: number;
  node: string;
  library: string;
  /** 1-minute load average when the run started (other processes on the machine). */
  load: number;
}

/** The library's version from its package.json. */
export function libraryVersion(): string {
  for (const up of ['..', join('..', '..')]) {
    const f = join(__dirname, up, 'package.json');
    if (existsSync(f)) {
      const p = JSON.parse(readFileSync(f, 'utf8')) as { name?: string; version?: string };
      if (p.name === 'autocontrast') return p.version ?? 'unknown';
    }
  }
  return 'unknown';
}

/** The stamp of this process, now. */
export function stamp(): Stamp {
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    isa: backend(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    library: libraryVersion(),
    load: Math.round(os.loadavg()[0] * 10) / 10,
  };
}
