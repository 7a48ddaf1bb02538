// Fetches the ONNX Runtime C API headers (onnxruntime_c_api.h and friends) from Debian trixie's
// libonnxruntime-dev package into build/ort-include/, for building the native decode runtime. Uses a private
// apt state (its own source list and list directory under a temp folder): the system's apt sources and package
// database are not touched, nothing is installed, and only the headers are kept. The C API is append-only, so
// these 1.21 headers work with the newer libonnxruntime.so.1 that onnxruntime-node ships (loaded at run time).
// Exits non-zero with a clear message when it cannot; the addon then builds without the runtime.
// Usage: node scripts/fetch-ort-headers.mjs [--force]
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dest = join(root, 'build', 'ort-include');
const SUITE = process.env.AUTOCONTRAST_ORT_SUITE ?? 'trixie';
const MIRROR = process.env.AUTOCONTRAST_ORT_MIRROR ?? 'http://deb.debian.org/debian';

function fail(msg) {
  console.error(`autocontrast: cannot fetch the ONNX Runtime C API headers: ${msg}`);
  console.error('The addon builds without the native decode runtime. Put onnxruntime_c_api.h into build/ort-include/ by hand to enable it.');
  process.exit(1);
}

if (existsSync(join(dest, 'onnxruntime_c_api.h')) && !process.argv.includes('--force')) {
  console.log(`autocontrast: ORT headers already in ${dest}`);
  process.exit(0);
}
if (process.platform !== 'linux') fail('this script uses apt-get and dpkg (Debian/Ubuntu only)');
for (const tool of ['apt-get', 'dpkg']) {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) fail(`${tool} not found`);
}

const tmp = mkdtempSync(join(tmpdir(), 'ac-ort-'));
try {
  const lists = join(tmp, 'lists');
  const cache = join(tmp, 'cache');
  mkdirSync(join(lists, 'partial'), { recursive: true });
  mkdirSync(join(cache, 'archives', 'partial'), { recursive: true });
  const sources = join(tmp, 'sources.list');
  writeFileSync(sources, `deb ${MIRROR} ${SUITE} main\n`);
  const opts = [
    '-o', `Dir::Etc::SourceList=${sources}`,
    '-o', 'Dir::Etc::SourceParts=/dev/null',
    '-o', `Dir::State::Lists=${lists}`,
    '-o', `Dir::Cache=${cache}`,
    '-o', 'Dir::State::status=/dev/null',
    '-o', 'APT::Get::List-Cleanup=0',
    '-o', 'Debug::NoLocking=1',
    '-o', 'Acquire::Languages=none',
    '-o', 'Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false',
  ];
  const run = (args, what) => {
    const r = spawnSync('apt-get', [...opts, ...args], { cwd: tmp, encoding: 'utf8' });
    if (r.status !== 0) fail(`${what} failed: ${(r.stderr || r.stdout || String(r.error)).trim().split('\n').slice(-3).join(' | ')}`);
  };
  console.log(`autocontrast: apt-get update (private state, ${MIRROR} ${SUITE} main)...`);
  run(['-q', 'update'], 'apt-get update');
  console.log('autocontrast: apt-get download libonnxruntime-dev...');
  run(['-q', 'download', 'libonnxruntime-dev'], 'apt-get download libonnxruntime-dev');
  const deb = readdirSync(tmp).find((f) => f.startsWith('libonnxruntime-dev') && f.endsWith('.deb'));
  if (!deb) fail('apt-get download produced no .deb');
  const x = join(tmp, 'x');
  const r = spawnSync('dpkg', ['-x', join(tmp, deb), x], { encoding: 'utf8' });
  if (r.status !== 0) fail(`dpkg -x failed: ${r.stderr.trim()}`);
  // Headers live under usr/include/onnxruntime/ (possibly nested); find the folder holding onnxruntime_c_api.h.
  const find = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isFile() && e.name === 'onnxruntime_c_api.h') return dir;
      if (e.isDirectory()) {
        const f = find(p);
        if (f) return f;
      }
    }
    return null;
  };
  const inc = find(x);
  if (!inc) fail(`${deb} holds no onnxruntime_c_api.h`);
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest, { recursive: true });
  for (const f of readdirSync(inc)) if (/\.(h|hpp|inc)$/.test(f)) cpSync(join(inc, f), join(dest, f));
  console.log(`autocontrast: ORT C API headers from ${deb} copied to ${dest}`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
