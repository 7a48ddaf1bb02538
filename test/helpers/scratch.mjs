// Temporary folders removed at exit and the runtime's skip reason, shared by the test areas that build model
// folders (generate, eval, train).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import runtimePkg from 'autocontrast/runtime';

const dirs = [];
process.on('exit', () => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A temporary folder removed when the process exits. */
export function tempDir(prefix = 'ac-test-') {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** Why the runtime tests cannot run here (printed), or null. */
export function runtimeSkip() {
  const st = runtimePkg.runtimeStatus();
  if (st.available) return null;
  console.log(`skipped: runtime not built (${st.reason})`);
  return st.reason;
}
