// Minimal .npy (NumPy format 1.0/2.0) reader for little-endian float32 and int64 arrays, C order.
import * as fs from 'node:fs';

/** Reads an .npy file: { shape, data } with data a Float32Array (<f4) or an Array of numbers (<i8). */
export function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${file}: not an .npy file`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const hstart = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', hstart, hstart + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*True/.test(header);
  const shape = (/'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? '')
    .split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (fortran) throw new Error(`${file}: Fortran order is not supported`);
  const off = hstart + hlen;
  const n = shape.reduce((a, b) => a * b, 1);
  const bytes = buf.subarray(off);
  if (descr === '<f4') {
    const data = new Float32Array(n);
    new Uint8Array(data.buffer).set(bytes.subarray(0, n * 4));
    return { shape, data };
  }
  if (descr === '<i8') {
    const data = [];
    for (let i = 0; i < n; i++) data.push(Number(bytes.readBigInt64LE(i * 8)));
    return { shape, data };
  }
  throw new Error(`${file}: dtype ${descr} is not supported`);
}
