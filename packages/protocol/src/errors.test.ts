import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ERRORS, ERROR_CODES, isErrorCode } from './errors.js';

// Keeps docs/errors.md and ERRORS in step: every code documented, nothing documented that does not exist,
// and the same HTTP status in both.
const DOC = fileURLToPath(new URL('../../../docs/errors.md', import.meta.url));

/** Rows of the doc's table whose first cell is a code in backticks: | `CODE` | 400 | meaning | when | */
function documentedCodes(markdown: string): Map<string, { status: number; line: number }> {
  const rows = new Map<string, { status: number; line: number }>();
  markdown.split('\n').forEach((text, index) => {
    const match = /^\|\s*`([A-Z0-9_]+)`\s*\|\s*(\d{3})\s*\|/.exec(text);
    if (!match) return;
    const [, code, status] = match;
    if (rows.has(code!)) throw new Error(`docs/errors.md lists ${code} twice (line ${index + 1})`);
    rows.set(code!, { status: Number(status), line: index + 1 });
  });
  return rows;
}

describe('docs/errors.md', () => {
  const doc = documentedCodes(readFileSync(DOC, 'utf8'));

  it('has a table of codes', () => {
    expect(doc.size).toBeGreaterThan(0);
  });

  it('documents every error code', () => {
    const missing = ERROR_CODES.filter((code) => !doc.has(code));
    expect(missing, `add these codes to docs/errors.md`).toEqual([]);
  });

  it('documents no code that does not exist', () => {
    const unknown = [...doc.keys()].filter((code) => !isErrorCode(code));
    expect(unknown, `remove these from docs/errors.md or add them to errors.ts`).toEqual([]);
  });

  it('gives each code the HTTP status it has in errors.ts', () => {
    const wrong = [...doc]
      .filter(([code, row]) => isErrorCode(code) && ERRORS[code].status !== row.status)
      .map(([code, row]) => `${code}: doc line ${row.line} says ${row.status}, errors.ts says ${isErrorCode(code) ? ERRORS[code].status : '?'}`);
    expect(wrong).toEqual([]);
  });
});

describe('ERRORS', () => {
  it('uses SCREAMING_SNAKE codes with an HTTP error status and a message', () => {
    for (const code of ERROR_CODES) {
      expect(code).toMatch(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/);
      expect(ERRORS[code].status).toBeGreaterThanOrEqual(400);
      expect(ERRORS[code].status).toBeLessThan(600);
      expect(ERRORS[code].message.length).toBeGreaterThan(0);
    }
  });

  it('recognises only its own codes', () => {
    expect(isErrorCode('TEXT_EMPTY')).toBe(true);
    expect(isErrorCode('toString')).toBe(false);
    expect(isErrorCode('NOPE')).toBe(false);
    expect(isErrorCode(404)).toBe(false);
  });
});
