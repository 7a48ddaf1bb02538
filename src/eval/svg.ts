/**
 * A small SVG line-chart renderer (no browser, no dependencies): metric per exit layer, several series, a
 * horizontal reference line, marked points and a stamp line under the plot.
 */

/** One line of a chart. */
export interface Series {
  name: string;
  points: readonly [number, number][];
  color: string;
  dashed?: boolean;
}

/** What {@link lineChart} draws. */
export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  /** Horizontal reference lines (e.g. the plain model). */
  hlines?: readonly { y: number; name: string; color: string }[];
  /** Points to mark with a ring and a label (e.g. the chosen amateur). */
  marks?: readonly { x: number; y: number; label: string }[];
  /** Logarithmic y axis (perplexities). */
  logY?: boolean;
  /** Small print under the plot: model, data, settings, date, machine, version. */
  stamp?: readonly string[];
  width?: number;
  height?: number;
}

/** Escapes text for XML content and attribute values. */
export function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** Round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.round(v / step) * step);
  return out;
}

function fmt(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
}

/** Renders a line chart as a standalone SVG document. Non-finite points are left out. */
export function lineChart(spec: ChartSpec): string {
  const W = spec.width ?? 720;
  const stampLines = spec.stamp ?? [];
  const H = (spec.height ?? 420) + 14 * stampLines.length;
  const m = { l: 70, r: 170, t: 40, b: 56 + 14 * stampLines.length };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const tf = (y: number) => (spec.logY ? Math.log10(y) : y);
  const pts = spec.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(tf(y)));
  const ys = [...pts.map(([, y]) => tf(y)), ...(spec.hlines ?? []).map((h) => tf(h.y)).filter(Number.isFinite)];
  const xs = pts.map(([x]) => x);
  let [x0, x1] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  let [y0, y1] = ys.length ? [Math.min(...ys), Math.max(...ys)] : [0, 1];
  if (x1 === x0) [x0, x1] = [x0 - 1, x1 + 1];
  if (y1 === y0) [y0, y1] = [y0 - 1, y1 + 1];
  const pad = (y1 - y0) * 0.05;
  y0 -= pad;
  y1 += pad;
  const X = (x: number) => m.l + ((x - x0) / (x1 - x0)) * pw;
  const Y = (y: number) => m.t + ph - ((tf(y) - y0) / (y1 - y0)) * ph;
  const o: string[] = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  o.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  o.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${xmlEscape(spec.title)}</text>`);
  o.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`);
  for (const t of niceTicks(x0, x1, Math.min(10, Math.max(2, Math.round(x1 - x0))))) {
    o.push(`<line x1="${X(t).toFixed(1)}" y1="${m.t + ph}" x2="${X(t).toFixed(1)}" y2="${m.t + ph + 5}" stroke="#444"/>`);
    o.push(`<text x="${X(t).toFixed(1)}" y="${m.t + ph + 18}" text-anchor="middle">${fmt(t)}</text>`);
  }
  for (const t of niceTicks(y0, y1)) {
    const v = spec.logY ? 10 ** t : t;
    const yy = Y(v).toFixed(1);
    o.push(`<line x1="${m.l}" y1="${yy}" x2="${m.l + pw}" y2="${yy}" stroke="#ddd"/>`);
    o.push(`<text x="${m.l - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle">${fmt(v)}</text>`);
  }
  o.push(`<text x="${m.l + pw / 2}" y="${m.t + ph + 36}" text-anchor="middle">${xmlEscape(spec.xLabel)}</text>`);
  o.push(`<text transform="translate(16 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${xmlEscape(spec.yLabel + (spec.logY ? ' (log scale)' : ''))}</text>`);
  let ly = m.t + 10;
  const legend = (name: string, color: string, dashed: boolean) => {
    o.push(`<line x1="${m.l + pw + 12}" y1="${ly}" x2="${m.l + pw + 36}" y2="${ly}" stroke="${color}" stroke-width="2"${dashed ? ' stroke-dasharray="5 4"' : ''}/>`);
    o.push(`<text x="${m.l + pw + 42}" y="${ly}" dominant-baseline="middle">${xmlEscape(name)}</text>`);
    ly += 18;
  };
  for (const h of spec.hlines ?? []) {
    if (!Number.isFinite(tf(h.y))) continue;
    o.push(`<line x1="${m.l}" y1="${Y(h.y).toFixed(1)}" x2="${m.l + pw}" y2="${Y(h.y).toFixed(1)}" stroke="${h.color}" stroke-width="1.5" stroke-dasharray="2 3"/>`);
    legend(h.name, h.color, true);
  }
  for (const s of spec.series) {
    const good = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(tf(y)));
    if (good.length) {
      const d = good.map(([x, y], i) => `${i ? 'L' : 'M'}${X(x).toFixed(1)} ${Y(y).toFixed(1)}`).join(' ');
      o.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 4"' : ''}/>`);
      for (const [x, y] of good) o.push(`<circle cx="${X(x).toFixed(1)}" cy="${Y(y).toFixed(1)}" r="2.5" fill="${s.color}"/>`);
    }
    legend(s.name, s.color, !!s.dashed);
  }
  for (const k of spec.marks ?? []) {
    if (!Number.isFinite(tf(k.y))) continue;
    o.push(`<circle cx="${X(k.x).toFixed(1)}" cy="${Y(k.y).toFixed(1)}" r="7" fill="none" stroke="black" stroke-width="1.5"/>`);
    o.push(`<text x="${(X(k.x) + 9).toFixed(1)}" y="${(Y(k.y) - 9).toFixed(1)}" font-size="11">${xmlEscape(k.label)}</text>`);
  }
  stampLines.forEach((line, i) => {
    o.push(`<text x="8" y="${H - 8 - 14 * (stampLines.length - 1 - i)}" font-size="10" fill="#555">${xmlEscape(line)}</text>`);
  });
  o.push('</svg>');
  return o.join('\n') + '\n';
}
