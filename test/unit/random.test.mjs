// The sampling generator and draw rule (src/decoding/random.ts, restating native/kernels/select.h) against an
// independent restatement in Python written from the published algorithms (splitmix32 seeding, xoshiro128**
// by Blackman & Vigna) and the rule's text. The native side is held equal to the TypeScript token for token by
// test/generate/fused-path.test.mjs.
import { spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SeededRandom } from 'autocontrast';
import { drawIndex } from 'autocontrast/decoding';

const PY = String.raw`
import json, math, sys
M = 0xFFFFFFFF
def make(seed, stream):
    lo = seed & M
    hi = (seed >> 32) & M            # floor(seed / 2^32) mod 2^32 (Python's >> floors)
    x = (lo ^ ((hi * 0x85ebca6b) & M) ^ ((stream * 0xc2b2ae35) & M)) & M
    out = []
    for _ in range(4):
        x = (x + 0x9e3779b9) & M
        z = x
        z = ((z ^ (z >> 16)) * 0x85ebca6b) & M
        z = ((z ^ (z >> 13)) * 0xc2b2ae35) & M
        out.append(z ^ (z >> 16))
    out[0] |= 1
    return out
def rotl(v, k):
    return ((v << k) | (v >> (32 - k))) & M
def step(s):
    r = (rotl((s[1] * 5) & M, 7) * 9) & M
    t = (s[1] << 9) & M
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 11)
    return r
def draw(x, u, chunks=256):
    V = len(x)
    finite = [v for v in x if v != -math.inf]
    if not finite: return -1
    m = max(finite)
    size = -(-V // chunks)
    w = [0.0 if v == -math.inf else math.exp(v - m) for v in x]
    sums = []
    for c in range(chunks):
        s = 0.0
        for i in range(c * size, min(V, c * size + size)): s += w[i]
        sums.append(s)
    total = 0.0
    for s in sums: total += s
    target = u * total
    acc, c = 0.0, 0
    while c < chunks - 1 and not (acc + sums[c] > target):
        acc += sums[c]; c += 1
    last = -1
    for i in range(c * size, V):
        if x[i] == -math.inf: continue
        last = i
        acc += w[i]
        if acc > target: return i
    return last
req = json.load(sys.stdin)
streams = []
for seed, stream in req["keys"]:
    s = make(seed, stream)
    streams.append([step(s) for _ in range(req["n"])])
draws = [draw([(-math.inf if v is None else v) for v in row], u) for row, u in req["draws"]]
print(json.dumps({"streams": streams, "draws": draws}))
`;

function python(input) {
  const r = spawnSync(process.env.AUTOCONTRAST_PYTHON ?? 'python3', ['-c', PY], { input: JSON.stringify(input), encoding: 'utf8' });
  if (r.error || r.status !== 0) return null;
  return JSON.parse(r.stdout);
}

test('generator and draw rule equal an independent Python restatement', () => {
  const keys = [[0, 0], [1, 0], [42, 3], [-1, 0], [-12345678901, 2], [2 ** 40 + 7, 1], [Number.MAX_SAFE_INTEGER, 7], [123, 4294967295]];
  const n = 50;
  // Rows to draw from: float32 values (as the decoder's rows are), with -Infinity entries, several lengths.
  const f32 = (a) => Array.from(Float32Array.from(a));
  const rng = new SeededRandom(7);
  const rows = [];
  for (const V of [1, 5, 255, 256, 257, 1000, 3001]) {
    for (let k = 0; k < 4; k++) {
      const row = f32(Array.from({ length: V }, () => (rng.next() < 0.3 ? -Infinity : (rng.next() - 0.5) * 12)));
      if (row.every((v) => v === -Infinity)) row[V - 1] = 0;
      rows.push([row, rng.next()]);
    }
  }
  rows.push([f32([-Infinity, -Infinity, 2]), 0.999999]);
  rows.push([f32([0, 0, 0, 0]), 0.5]);
  const py = python({ keys, n, draws: rows.map(([row, u]) => [row.map((v) => (v === -Infinity ? null : v)), u]) });
  if (!py) {
    console.log('skipped: python3 is not available (set AUTOCONTRAST_PYTHON) - generator vs Python restatement');
    return;
  }
  keys.forEach(([seed, stream], k) => {
    const r = new SeededRandom(seed, stream);
    const ours = Array.from({ length: n }, () => r.nextU32());
    assert.equal(ours, py.streams[k], `seed ${seed} stream ${stream}`);
  });
  rows.forEach(([row, u], i) => assert.is(drawIndex(Float32Array.from(row), u), py.draws[i], `row ${i} (V ${row.length})`));
  // Streams of one seed differ; next() is the 32 bits over 2^32.
  assert.not.equal(py.streams[0], py.streams[1]);
  const a = new SeededRandom(5, 0), b = new SeededRandom(5, 1);
  assert.is.not(a.nextU32(), b.nextU32());
  const c = new SeededRandom(9), d = new SeededRandom(9);
  assert.is(c.next(), d.nextU32() / 4294967296);
});

test('the draw rule: -1 on an all -Infinity row, the only allowed token, frequencies follow the weights', () => {
  assert.is(drawIndex(Float32Array.from([-Infinity, -Infinity]), 0.3), -1);
  assert.is(drawIndex(Float32Array.from([-Infinity, 1, -Infinity]), 0.999), 1);
  const row = Float32Array.from([Math.log(0.1), Math.log(0.2), Math.log(0.7)]);
  const counts = [0, 0, 0];
  const r = new SeededRandom(1);
  for (let i = 0; i < 20000; i++) counts[drawIndex(row, r.next())]++;
  [0.1, 0.2, 0.7].forEach((p, i) => assert.ok(Math.abs(counts[i] / 20000 - p) < 0.015, `token ${i}: ${counts[i]}`));
});

test.run();
