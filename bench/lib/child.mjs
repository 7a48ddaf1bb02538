// Peers run as child processes: spawn with a time limit, read the last JSON line of stdout; jobs go through a
// temporary JSON file.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Runs `cmd argv`, resolves with the last `{...}` line of stdout parsed, or `{ ok: false, error }`. */
export function runChild(cmd, argv, timeoutMs) {
  return new Promise((resolve) => {
    const ch = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    let out = '', err = '';
    const timer = setTimeout(() => ch.kill('SIGKILL'), timeoutMs);
    ch.stdout.on('data', (d) => (out += d));
    ch.stderr.on('data', (d) => (err += d));
    ch.on('error', (e) => { clearTimeout(timer); resolve({ ok: false, error: `${cmd}: ${e.message}` }); });
    ch.on('close', (code, sig) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').reverse().find((l) => l.startsWith('{'));
      if (line) {
        try { return resolve(JSON.parse(line)); } catch { /* fall through */ }
      }
      resolve({ ok: false, error: `exit ${code ?? sig}: ${(err || out).trim().split('\n').slice(-3).join(' ').slice(0, 400)}` });
    });
  });
}

/** Writes `obj` to a fresh temporary job file and returns its path. */
export const tmpJob = (obj) => {
  const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ac-bench-')), 'job.json');
  fs.writeFileSync(f, JSON.stringify(obj));
  return f;
};
