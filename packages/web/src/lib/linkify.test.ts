import { describe, expect, it } from 'vitest';
import { linkify, safeHref, type LinkToken } from './linkify';

const links = (text: string) => linkify(text).filter((t): t is Extract<LinkToken, { kind: 'link' }> => t.kind === 'link');
const joined = (text: string) => linkify(text).map((t) => t.text).join('');

describe('linkify', () => {
  it('returns plain text unchanged as one token', () => {
    expect(linkify('hello there')).toEqual([{ kind: 'text', text: 'hello there' }]);
    expect(linkify('')).toEqual([]);
  });

  it('links http and https URLs and keeps the surrounding text', () => {
    expect(linkify('see https://example.com/a?b=1#c now')).toEqual([
      { kind: 'text', text: 'see ' },
      { kind: 'link', text: 'https://example.com/a?b=1#c', href: 'https://example.com/a?b=1#c' },
      { kind: 'text', text: ' now' },
    ]);
    expect(links('http://example.org')[0]?.href).toBe('http://example.org/');
  });

  it('treats a www. host as https', () => {
    expect(links('go to www.example.com.')).toEqual([
      { kind: 'link', text: 'www.example.com', href: 'https://www.example.com/' },
    ]);
  });

  it('accepts an upper-case scheme', () => {
    expect(links('HTTPS://EXAMPLE.COM/X')[0]?.href).toBe('https://example.com/X');
  });

  it('drops trailing punctuation and unbalanced brackets', () => {
    expect(links('(see https://a.example/b).')[0]?.text).toBe('https://a.example/b');
    expect(links('https://en.example/wiki/Foo_(bar)')[0]?.text).toBe('https://en.example/wiki/Foo_(bar)');
    expect(links('https://example.com/?!')[0]?.text).toBe('https://example.com/');
  });

  it('trims in linear time: a 4,000-character run of brackets and dots does not stall rendering', () => {
    const hostile = ['https://a.example/' + ')'.repeat(3980), 'https://a.example/' + ').'.repeat(1990), 'https://a.example/' + '.'.repeat(3980) + 'x'];
    const started = performance.now();
    for (let i = 0; i < 10; i++) for (const text of hostile) linkify(text);
    expect(performance.now() - started).toBeLessThan(200);
    expect(links(hostile[0]!)[0]?.text).toBe('https://a.example/');
    expect(links('https://a.example/((x)))')[0]?.text).toBe('https://a.example/((x))');
    expect(links('https://a.example/[x]}).')[0]?.text).toBe('https://a.example/[x]');
  });

  it('keeps markdown-style javascript links as plain text', () => {
    const text = '[open](javascript:alert(1))';
    expect(linkify(text)).toEqual([{ kind: 'text', text }]);
  });

  it('keeps mixed-case javascript: and data: URLs as plain text', () => {
    for (const text of [
      'JaVaScRiPt:alert(document.cookie)',
      'javascript://example.com/%0Aalert(1)',
      'data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==',
      'vbscript:msgbox(1)',
      'file:///etc/passwd',
    ]) {
      expect(links(text)).toEqual([]);
      expect(joined(text)).toBe(text);
    }
  });

  it('keeps HTML as literal text', () => {
    for (const text of ['<a href="javascript:alert(1)">x</a>', '<img src=x onerror=alert(1)>', '<script>alert(1)</script>']) {
      expect(linkify(text)).toEqual([{ kind: 'text', text }]);
    }
  });

  it('does not let an href attribute inside HTML smuggle a link through quotes', () => {
    const text = '<a href="https://example.com" onclick="alert(1)">x</a>';
    const found = links(text);
    expect(found).toEqual([{ kind: 'link', text: 'https://example.com', href: 'https://example.com/' }]);
    expect(joined(text)).toBe(text);
  });

  it('does not link a scheme glued to a word or a bare scheme', () => {
    expect(links('xhttp://example.com')).toEqual([]);
    expect(links('http://')).toEqual([]);
    expect(links('https:// example.com')).toEqual([]);
  });

  it('round-trips every input', () => {
    for (const text of ['a https://x.example b www.y.example c', 'ünïcödé https://例子.example/路径 😀', 'x\nhttps://z.example\ny']) {
      expect(joined(text)).toBe(text);
    }
  });
});

describe('safeHref', () => {
  it('rejects non-http schemes and credentials', () => {
    expect(safeHref('javascript:alert(1)')).toBeNull();
    expect(safeHref('JAVASCRIPT:alert(1)')).toBeNull();
    expect(safeHref('data:text/html,x')).toBeNull();
    expect(safeHref('https://user:pass@example.com')).toBeNull();
    expect(safeHref('https://example.com')).toBe('https://example.com/');
  });
});
