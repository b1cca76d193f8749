import { describe, expect, it } from 'vitest';
import { foldProfile, frameLabel, renderFlameSvg, topSelf } from './src/flame.js';

const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber });

/** root → handler (KKChat) → query (a dependency) → native; plus idle and GC samples. */
const profile = {
  nodes: [
    { id: 1, callFrame: frame('(root)'), children: [2, 5, 6] },
    { id: 2, callFrame: frame('sendMessage', 'file:///x/packages/server/dist/modules/conversations/conversations.service.js', 80), children: [3] },
    { id: 3, callFrame: frame('executeQuery', 'file:///x/node_modules/kysely/dist/esm/dialect/sqlite/sqlite-driver.js', 58), children: [4] },
    { id: 4, callFrame: frame('writev') },
    { id: 5, callFrame: frame('(idle)') },
    { id: 6, callFrame: frame('(garbage collector)') },
  ],
  samples: [2, 3, 3, 4, 5, 5, 5, 6],
  timeDeltas: [100, 100, 100, 100, 100, 100, 100, 100],
};

describe('bench:flame', () => {
  it('folds a CPU profile into CPU time per frame, with idle left out and reported apart', () => {
    const { root, idleUs, gcUs, totalUs } = foldProfile(profile);
    expect(totalUs).toBe(800);
    expect(idleUs).toBe(300);
    expect(gcUs).toBe(100);
    expect(root.total).toBe(500);
    const handler = [...root.children.values()].find((f) => f.area === 'kkchat')!;
    expect(handler.name).toBe('sendMessage (server/modules/conversations/conversations.service.js:81)');
    expect(handler.total).toBe(400);
    expect(handler.self).toBe(100);
    expect(topSelf(root, 2).map((r) => [r.name, r.selfUs])).toEqual([
      ['executeQuery (kysely/sqlite-driver.js)', 200],
      ['sendMessage (server/modules/conversations/conversations.service.js:81)', 100],
    ]);
  });

  it('labels frames by where their code lives', () => {
    expect(frameLabel(frame('parse', 'node:internal/url')).area).toBe('node');
    expect(frameLabel(frame('', 'file:///x/node_modules/@scope/pkg/lib/a.js')).name).toBe('(anonymous) (@scope/pkg/a.js)');
    expect(frameLabel(frame('writev')).area).toBe('native');
  });

  it('draws one box per frame wide enough to see, widths proportional to CPU time, names escaped', () => {
    const { root } = foldProfile(profile);
    const svg = renderFlameSvg(root, 'a <profile> & more');
    expect(svg).toContain('a &lt;profile&gt; &amp; more');
    const widths = [...svg.matchAll(/<rect x="[\d.]+" y="\d+" width="([\d.]+)" height="15"/g)].map((m) => Number(m[1]));
    // all (1200 px for 500 µs), sendMessage 400 µs, executeQuery 300 µs, writev 100 µs, GC 100 µs.
    expect(widths.sort((a, b) => b - a)).toEqual([1199.5, 959.5, 719.5, 239.5, 239.5]);
  });
});
