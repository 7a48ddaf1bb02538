// Copies the freshly built addon (and the CUDA library when it was built) into
// prebuilds/<platform>-<arch>/, the folder the loader reads in an installed package. Run by `npm pack`.
import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const from = join(root, 'build', 'Release');
const to = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
const addon = join(from, 'autocontrast.node');
if (!existsSync(addon)) {
  console.error(`copy-prebuild: ${addon} is missing; run \`npm run build:native\` first`);
  process.exit(1);
}
rmSync(to, { recursive: true, force: true });
mkdirSync(to, { recursive: true });
for (const name of ['autocontrast.node', 'libautocontrast_cuda.so']) {
  if (existsSync(join(from, name))) {
    copyFileSync(join(from, name), join(to, name));
    console.log(`copy-prebuild: ${name} -> ${to}`);
  }
}
