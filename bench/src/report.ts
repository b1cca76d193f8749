/** Percentiles, the Markdown table and hand-written SVG charts. No charting dependency. */

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export interface Latency {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function latency(samples: number[]): Latency {
  const s = Float64Array.from(samples).sort();
  const arr = Array.from(s);
  return { n: arr.length, p50: percentile(arr, 50), p95: percentile(arr, 95), p99: percentile(arr, 99), max: arr[arr.length - 1] ?? NaN };
}

export function median(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

export function fmt(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** One row of a scenario table: a metric, each target's value, and KKChat / baseline ratios. */
export interface Row {
  metric: string;
  unit: string;
  /** Higher is better (throughput) or lower is better (latency, memory): decides nothing, shown for reading. */
  better: 'higher' | 'lower';
  kkchat: number | null;
  ws: number | null;
  sio: number | null;
  digits?: number;
  note?: string;
}

export interface ScenarioResult {
  name: string;
  title: string;
  params: Record<string, unknown>;
  rows: Row[];
  notes: string[];
  /** Extra series for the chart (x → y per target), e.g. offered vs delivered rate. */
  series?: { title: string; xLabel: string; yLabel: string; lines: { label: string; points: [number, number][] }[] };
  raw?: unknown;
  skipped?: string;
}

function ratio(a: number | null, b: number | null): string {
  if (a === null || b === null || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return 'n/a';
  return `${(a / b).toFixed(2)}×`;
}

export function markdownTable(result: ScenarioResult): string {
  if (result.skipped) return `### ${result.title}\n\n${result.skipped}\n`;
  const lines = [
    `### ${result.title}`,
    '',
    `Parameters: ${Object.entries(result.params)
      .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
      .join(', ')}`,
    '',
    '| metric | KKChat | bare ws relay | Socket.IO relay | KKChat / ws | KKChat / Socket.IO |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const r of result.rows) {
    const d = r.digits ?? 0;
    const cell = (v: number | null) => (v === null ? '—' : fmt(v, d));
    lines.push(
      `| ${r.metric} (${r.unit}, ${r.better} is better)${r.note ? ` ${r.note}` : ''} | ${cell(r.kkchat)} | ${cell(r.ws)} | ${cell(r.sio)} | ${ratio(r.kkchat, r.ws)} | ${ratio(r.kkchat, r.sio)} |`,
    );
  }
  if (result.notes.length) lines.push('', ...result.notes.map((n) => `- ${n}`));
  return lines.join('\n') + '\n';
}

/** Console lines: KKChat beside the baselines and the ratio. */
export function consoleTable(result: ScenarioResult): string {
  if (result.skipped) return `  ${result.title}: ${result.skipped}`;
  return result.rows
    .map((r) => {
      const d = r.digits ?? 0;
      const v = (x: number | null) => (x === null ? '—' : fmt(x, d));
      return `  ${r.metric.padEnd(46)} KKChat ${v(r.kkchat).padStart(10)} | ws ${v(r.ws).padStart(10)} (${ratio(r.kkchat, r.ws)}) | Socket.IO ${v(r.sio).padStart(10)} (${ratio(r.kkchat, r.sio)}) ${r.unit}`;
    })
    .join('\n');
}

const COLORS = { kkchat: '#2563eb', ws: '#16a34a', sio: '#d97706' } as const;
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A grouped bar chart: one group per metric (each scaled to its own maximum), one bar per target. */
export function svgChart(result: ScenarioResult): string {
  if (result.series) return lineChart(result);
  const rows = result.rows.filter((r) => [r.kkchat, r.ws, r.sio].some((v) => v !== null && Number.isFinite(v)));
  const groupH = 64;
  const width = 760;
  const left = 300;
  const barMax = width - left - 110;
  const height = 50 + rows.length * groupH + 30;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">${esc(result.title)}</text>`,
  ];
  rows.forEach((r, gi) => {
    const y0 = 40 + gi * groupH;
    const values = { kkchat: r.kkchat, ws: r.ws, sio: r.sio };
    const max = Math.max(...Object.values(values).map((v) => (v !== null && Number.isFinite(v) ? v : 0)), 1e-9);
    parts.push(`<text x="10" y="${y0 + 28}">${esc(`${r.metric} (${r.unit})`)}</text>`);
    (['kkchat', 'ws', 'sio'] as const).forEach((t, i) => {
      const v = values[t];
      const y = y0 + 4 + i * 18;
      if (v === null || !Number.isFinite(v)) {
        parts.push(`<text x="${left}" y="${y + 12}" fill="#888">${t === 'kkchat' ? 'KKChat' : t === 'ws' ? 'ws' : 'Socket.IO'}: n/a</text>`);
        return;
      }
      const w = Math.max(1, (v / max) * barMax);
      parts.push(`<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="15" fill="${COLORS[t]}"/>`);
      parts.push(`<text x="${left + w + 6}" y="${y + 12}">${fmt(v, r.digits ?? 0)}</text>`);
    });
  });
  const ly = height - 14;
  parts.push(legend(10, ly));
  parts.push('</svg>');
  return parts.join('\n');
}

function legend(x: number, y: number): string {
  return (['kkchat', 'ws', 'sio'] as const)
    .map((t, i) => `<rect x="${x + i * 150}" y="${y - 10}" width="12" height="12" fill="${COLORS[t]}"/><text x="${x + i * 150 + 16}" y="${y}">${t === 'kkchat' ? 'KKChat' : t === 'ws' ? 'bare ws relay' : 'Socket.IO relay'}</text>`)
    .join('');
}

function lineChart(result: ScenarioResult): string {
  const s = result.series!;
  const width = 760;
  const height = 440;
  const m = { l: 70, r: 20, t: 40, b: 70 };
  const all = s.lines.flatMap((l) => l.points);
  const xMax = Math.max(...all.map((p) => p[0]), 1);
  const yMax = Math.max(...all.map((p) => p[1]), 1);
  const X = (x: number) => m.l + (x / xMax) * (width - m.l - m.r);
  const Y = (y: number) => height - m.b - (y / yMax) * (height - m.t - m.b);
  const palette = ['#2563eb', '#93c5fd', '#16a34a', '#d97706', '#7c3aed', '#dc2626'];
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">${esc(s.title)}</text>`,
    `<line x1="${m.l}" y1="${height - m.b}" x2="${width - m.r}" y2="${height - m.b}" stroke="#333"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${height - m.b}" stroke="#333"/>`,
    `<text x="${(width + m.l) / 2}" y="${height - m.b + 32}" text-anchor="middle">${esc(s.xLabel)}</text>`,
    `<text x="16" y="${(height - m.b + m.t) / 2}" transform="rotate(-90 16 ${(height - m.b + m.t) / 2})" text-anchor="middle">${esc(s.yLabel)}</text>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const yv = (yMax * i) / 4;
    const xv = (xMax * i) / 4;
    parts.push(`<text x="${m.l - 6}" y="${Y(yv) + 4}" text-anchor="end">${fmt(yv)}</text>`);
    parts.push(`<line x1="${m.l}" y1="${Y(yv)}" x2="${width - m.r}" y2="${Y(yv)}" stroke="#eee"/>`);
    parts.push(`<text x="${X(xv)}" y="${height - m.b + 16}" text-anchor="middle">${fmt(xv)}</text>`);
  }
  s.lines.forEach((line, i) => {
    const color = palette[i % palette.length];
    const pts = line.points.map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(' ');
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts}"/>`);
    for (const [x, y] of line.points) parts.push(`<circle cx="${X(x).toFixed(1)}" cy="${Y(y).toFixed(1)}" r="3" fill="${color}"/>`);
    const lx = 10 + (i % 3) * 250;
    const ly = height - 22 + Math.floor(i / 3) * 16;
    parts.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${color}"/><text x="${lx + 16}" y="${ly}">${esc(line.label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
