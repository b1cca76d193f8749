/**
 * Turns a V8 CPU profile (`node --cpu-prof`, e.g. through BENCH_SERVER_NODE_ARGS) into a flame graph (SVG) and a
 * table of the heaviest functions, so a benchmark run's profile can be read and kept beside its results.
 *
 *   npm run bench:flame -- <profile.cpuprofile> [out.svg] [--top=30] [--min=0.2]
 *
 * Width is CPU time (idle and the collector's own samples are left out of the graph and reported apart); frames
 * are coloured by where the code lives: KKChat, a dependency, Node.js itself, or native.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

interface Frame {
  name: string;
  area: Area;
  self: number;
  total: number;
  children: Map<string, Frame>;
}
type Area = 'kkchat' | 'dependency' | 'node' | 'native';

const COLOURS: Record<Area, string> = { kkchat: '#e4572e', dependency: '#f3a712', node: '#76b041', native: '#5d8fc9' };
const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

export function frameLabel(frame: ProfileNode['callFrame']): { name: string; area: Area } {
  const fn = frame.functionName || '(anonymous)';
  const url = frame.url;
  if (!url) return { name: fn, area: 'native' };
  const dep = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(url);
  if (dep) return { name: `${fn} (${dep[1]}/${basename(dep[2]!)})`, area: 'dependency' };
  const own = /packages\/([^/]+)\/(?:dist|src)\/(.*)$/.exec(url);
  if (own) return { name: `${fn} (${own[1]}/${own[2]}:${frame.lineNumber + 1})`, area: 'kkchat' };
  if (url.startsWith('node:')) return { name: `${fn} (${url})`, area: 'node' };
  return { name: `${fn} (${basename(url)})`, area: 'native' };
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** Folds the sampled call tree into frames keyed by label (recursion keeps its depth). */
export function foldProfile(profile: CpuProfile): { root: Frame; idleUs: number; gcUs: number; totalUs: number } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  let totalUs = 0;
  profile.samples.forEach((id, i) => {
    const dt = Math.max(0, profile.timeDeltas[i] ?? 0);
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
    totalUs += dt;
  });
  let idleUs = 0;
  let gcUs = 0;
  const root: Frame = { name: 'all', area: 'native', self: 0, total: 0, children: new Map() };
  const visit = (node: ProfileNode, parent: Frame): number => {
    const fn = node.callFrame.functionName;
    const own = selfUs.get(node.id) ?? 0;
    if (fn === '(idle)') {
      idleUs += own;
      return 0;
    }
    if (fn === '(garbage collector)') gcUs += own;
    let frame = parent;
    if (fn !== '(root)') {
      const { name, area } = frameLabel(node.callFrame);
      frame = parent.children.get(name) ?? { name, area, self: 0, total: 0, children: new Map() };
      parent.children.set(name, frame);
      frame.self += own;
    }
    let sum = own;
    for (const child of node.children ?? []) sum += visit(byId.get(child)!, frame);
    if (frame !== parent) frame.total += sum;
    return sum;
  };
  const first = profile.nodes[0];
  if (first) root.total = visit(first, root);
  return { root, idleUs, gcUs, totalUs };
}

/** The functions with the most self time (the same function at several depths summed). */
export function topSelf(root: Frame, n: number): { name: string; area: Area; selfUs: number }[] {
  const sums = new Map<string, { name: string; area: Area; selfUs: number }>();
  const walk = (frame: Frame) => {
    for (const child of frame.children.values()) {
      const entry = sums.get(child.name) ?? { name: child.name, area: child.area, selfUs: 0 };
      entry.selfUs += child.self;
      sums.set(child.name, entry);
      walk(child);
    }
  };
  walk(root);
  return [...sums.values()].sort((a, b) => b.selfUs - a.selfUs).slice(0, n);
}

const escapeXml = (text: string) => text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** A flame graph: the root at the bottom, callees stacked above their callers, width proportional to CPU time. */
export function renderFlameSvg(root: Frame, title: string, minFraction = 0.002): string {
  const width = 1200;
  const rowHeight = 16;
  let depthMax = 0;
  const rects: string[] = [];
  const place = (frame: Frame, x: number, depth: number) => {
    const w = (frame.total / root.total) * width;
    if (w < width * minFraction) return;
    depthMax = Math.max(depthMax, depth);
    rects.push(
      `<g><title>${escapeXml(frame.name)}: ${((100 * frame.total) / root.total).toFixed(1)} % (self ${((100 * frame.self) / root.total).toFixed(1)} %)</title>` +
        `<rect x="${x.toFixed(1)}" y="{Y${depth}}" width="${Math.max(0.5, w - 0.5).toFixed(1)}" height="${rowHeight - 1}" fill="${COLOURS[frame.area]}" rx="2"/>` +
        (w > 40 ? `<text x="${(x + 3).toFixed(1)}" y="{T${depth}}">${escapeXml(clip(frame.name, Math.floor((w - 6) / 6.5)))}</text>` : '') +
        '</g>',
    );
    let cx = x;
    for (const child of [...frame.children.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      place(child, cx, depth + 1);
      cx += (child.total / root.total) * width;
    }
  };
  place(root, 0, 0);
  const top = 40;
  const height = top + (depthMax + 1) * rowHeight + 40;
  const yOf = (depth: number) => height - 40 - (depth + 1) * rowHeight;
  const body = rects
    .map((r) => r.replace(/\{Y(\d+)\}/, (_, d: string) => String(yOf(Number(d)))).replace(/\{T(\d+)\}/, (_, d: string) => String(yOf(Number(d)) + 11)))
    .join('\n');
  const legend = (Object.keys(COLOURS) as Area[])
    .map((area, i) => `<rect x="${10 + i * 130}" y="${height - 22}" width="12" height="12" fill="${COLOURS[area]}"/><text x="${26 + i * 130}" y="${height - 12}">${area}</text>`)
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="monospace" font-size="11">
<rect width="100%" height="100%" fill="#fff"/>
<text x="10" y="22" font-size="14" font-family="sans-serif">${escapeXml(title)}</text>
${body}
${legend}
</svg>
`;
}

function clip(text: string, chars: number): string {
  return text.length <= chars ? text : `${text.slice(0, Math.max(0, chars - 1))}…`;
}

function main(): void {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string' }, min: { type: 'string' } } });
  const [input, output = input?.replace(/\.cpuprofile$/, '') + '.svg'] = positionals;
  if (!input) {
    process.stdout.write('usage: npm run bench:flame -- <profile.cpuprofile> [out.svg] [--top=30] [--min=0.2 (% of width)]\n');
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(input, 'utf8')) as CpuProfile;
  const { root, idleUs, gcUs, totalUs } = foldProfile(profile);
  const busy = root.total;
  const title = `${basename(input)}: ${(busy / 1000).toFixed(0)} ms of CPU over ${(totalUs / 1000).toFixed(0)} ms (idle ${((100 * idleUs) / totalUs).toFixed(0)} %, GC ${((100 * gcUs) / Math.max(1, busy)).toFixed(1)} % of CPU)`;
  writeFileSync(output!, renderFlameSvg(root, title, Number(values.min ?? 0.2) / 100));
  process.stdout.write(`${title}\nflame graph: ${output}\n\n| self % of CPU | function | where |\n|---:|---|---|\n`);
  for (const row of topSelf(root, Number(values.top ?? 30))) {
    process.stdout.write(`| ${((100 * row.selfUs) / busy).toFixed(1)} | ${row.name.replace(/\|/g, '\\|')} | ${row.area} |\n`);
  }
}

if (process.argv[1] && /flame\.[tj]s$/.test(process.argv[1])) main();
