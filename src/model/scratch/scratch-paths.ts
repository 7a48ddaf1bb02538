/**
 * Scratch files and folders of pulls and conversions, removed when the work fails, when the process exits, and
 * when it is interrupted (SIGINT, SIGTERM); and a sweep for leftovers of processes that died without cleaning
 * up (SIGKILL, power loss).
 *
 * Scratch names carry the writer's process id (`{base}.partial-{pid}-{hex}`, and the model writer's
 * `.{name}.tmp-{pid}-{hex}` / `.{name}.old-{pid}-{hex}`), so a later run can tell a dead process's leftovers from
 * a concurrent run's work in progress, and never touches a file it did not name.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

const paths = new Set<string>();
const children = new Set<ChildProcess>();
let hooked = false;

/** A scratch name for `base` in this process: `{base}.partial-{pid}-{8 hex}`. */
export function scratchName(base: string): string {
  return `${base}.partial-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Scratch names this module and the model writer give, with the writer's pid in group 1. */
const SCRATCH_RE = [/\.partial-(\d+)-[0-9a-f]{8}$/, /^\..+\.(?:tmp|old)-(\d+)-[0-9a-f]{8}$/];

/** The pid in a scratch name, or undefined when `name` is not a scratch name. */
export function scratchOwner(name: string): number | undefined {
  for (const re of SCRATCH_RE) {
    const m = re.exec(name);
    if (m) return Number(m[1]);
  }
  return undefined;
}

function removeNow(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  children.clear();
  for (const p of paths) fs.rmSync(p, { recursive: true, force: true });
  paths.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  // When the application listens too, it decides what the signal means; if it exits, the 'exit' hook cleans up.
  if (process.listenerCount(signal) > 1) return;
  removeNow();
  unhook();
  // Die of the same signal, as the default action would have (exit status 128 + n for the shell).
  process.kill(process.pid, signal);
}
const onSigint = (): void => onSignal('SIGINT');
const onSigterm = (): void => onSignal('SIGTERM');

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  process.on('exit', removeNow);
}

function unhook(): void {
  if (!hooked) return;
  hooked = false;
  process.off('SIGINT', onSigint);
  process.off('SIGTERM', onSigterm);
  process.off('exit', removeNow);
}

function settle(): void {
  if (paths.size === 0 && children.size === 0) unhook();
}

/**
 * Registers `p` (a file or folder this process is writing) for removal if the process exits or is interrupted
 * before the returned `release` is called. `release(remove)` forgets it, removing it first when `remove` is true.
 */
export function trackScratch(p: string): (remove?: boolean) => void {
  paths.add(p);
  hook();
  return (remove = false) => {
    if (remove) fs.rmSync(p, { recursive: true, force: true });
    paths.delete(p);
    settle();
  };
}

/** Registers a child process to be terminated on interruption; forgotten when it exits. */
export function trackChild(child: ChildProcess): void {
  children.add(child);
  hook();
  child.once('exit', () => {
    children.delete(child);
    settle();
  });
}

function alive(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes scratch entries of `dir` left by processes that no longer run (entries of this process that it is not
 * tracking count as left over too: a process id can come back after a restart). With `only`, just the names it
 * accepts. Returns the names removed. A model writer's `.{name}.old-*` folder whose `{name}` is missing is the
 * previous model, caught between two renames: it is put back instead of removed.
 */
export function removeStaleScratch(dir: string, only?: (name: string) => boolean): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const pid = scratchOwner(name);
    if (pid === undefined || (only && !only(name))) continue;
    const full = path.join(dir, name);
    if (paths.has(full) || alive(pid)) continue;
    const old = /^\.(.+)\.old-\d+-[0-9a-f]{8}$/.exec(name);
    if (old && !fs.existsSync(path.join(dir, old[1]))) {
      fs.renameSync(full, path.join(dir, old[1]));
      continue;
    }
    fs.rmSync(full, { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}
