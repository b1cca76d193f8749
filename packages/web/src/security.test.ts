import { describe, expect, it } from 'vitest';

/**
 * A guard for the rendering rule (design notes §4): user text is shown as text. No component may inject HTML,
 * whether through v-html, innerHTML/outerHTML/insertAdjacentHTML, or a render function's innerHTML prop.
 */
const sources = import.meta.glob(['./**/*.vue', './**/*.ts', '!./**/*.test.ts'], {
  query: '?raw',
  import: 'default',
  eager: true,
}) as Record<string, string>;

const FORBIDDEN = [/\bv-html\b/, /\binnerHTML\b/, /\bouterHTML\b/, /\binsertAdjacentHTML\b/, /\bdocument\.write\b/];

describe('no HTML injection in the web app', () => {
  it('finds the sources', () => {
    expect(Object.keys(sources).length).toBeGreaterThan(20);
  });

  it.each(Object.entries(sources))('%s renders no raw HTML', (_path, source) => {
    // Comments may name the rule; only code counts.
    const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '').replace(/<!--[\s\S]*?-->/g, '');
    for (const pattern of FORBIDDEN) expect(code).not.toMatch(pattern);
  });
});
