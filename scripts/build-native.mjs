// Builds the addon with cmake-js into build/Release/autocontrast.node. Node-API headers come from the
// node-api-headers package, so nothing is downloaded. Set AUTOCONTRAST_CUDA=ON|OFF|AUTO to choose the CUDA
// part (default AUTO: built when nvcc is found), AUTOCONTRAST_SANITIZE=1 for an ASan/UBSan build.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const cmakeJs = join(dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
const args = [cmakeJs, 'compile', '--out', 'build', '--parallel', '2'];
args.push(`--CDAUTOCONTRAST_CUDA=${process.env.AUTOCONTRAST_CUDA ?? 'AUTO'}`);
if (process.env.AUTOCONTRAST_SANITIZE === '1') args.push('--CDAUTOCONTRAST_SANITIZE=ON', '--debug');
// The decode runtime needs ONNX Runtime's C API headers (fetched from Debian's package; set
// AUTOCONTRAST_RUNTIME=OFF to skip): without them the addon is built without the runtime.
if (process.env.AUTOCONTRAST_RUNTIME !== 'OFF') {
  const f = spawnSync(process.execPath, [join(root, 'scripts', 'fetch-ort-headers.mjs')], { cwd: root, stdio: 'inherit' });
  if (f.status !== 0) console.error('autocontrast: building without the native decode runtime.');
}
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  console.error('autocontrast: native build failed (see above). The pure TypeScript fallback still works.');
  process.exit(r.status ?? 1);
}
