import { describe, expect, it } from 'vitest';
import { contentDisposition, sanitizeFileName } from './files.names.js';
import { parseRange } from './files.http.js';
import { FileLinkSigner } from './files.links.js';
import { fitsKind, isBlockedName, servedAs } from './files.types.js';

describe('sanitizeFileName', () => {
  it.each([
    ['../../etc/passwd', 'passwd'],
    ['..\\..\\x.bat', 'x.bat'],
    ['a\u200Bb\u2066c.txt', 'abc.txt'],
    ['  spaced   out  .txt ', 'spaced out .txt'],
    ['trailing...', 'trailing'],
    ['.hidden', 'hidden'],
    ['what?.txt', 'what_.txt'],
    ['\uD800lone.txt', 'lone.txt'],
  ])('%j → %j', (raw, expected) => expect(sanitizeFileName(raw)).toBe(expected));

  it('caps at 200 code points, keeping the extension, counting an emoji once', () => {
    const name = sanitizeFileName(`${'😀'.repeat(300)}.jpeg`);
    expect([...name].length).toBe(200);
    expect(name.endsWith('😀.jpeg')).toBe(true);
  });
});

describe('contentDisposition', () => {
  it('gives an ASCII fallback and the RFC 5987 form', () => {
    expect(contentDisposition('inline', "報告 (1)'s.pdf")).toBe(`inline; filename="__ (1)'s.pdf"; filename*=UTF-8''%E5%A0%B1%E5%91%8A%20%281%29%27s.pdf`);
  });
});

describe('parseRange', () => {
  it.each([
    [undefined, null],
    ['bytes=0-9', { start: 0, end: 9 }],
    ['bytes=5-', { start: 5, end: 99 }],
    ['bytes=-5', { start: 95, end: 99 }],
    ['bytes=90-200', { start: 90, end: 99 }],
    ['bytes=100-', 'unsatisfiable'],
    ['bytes=9-3', 'unsatisfiable'],
    ['bytes=0-1,5-6', null],
    ['items=0-1', null],
  ])('%s of 100 bytes', (header, expected) => expect(parseRange(header, 100)).toEqual(expected));
});

describe('FileLinkSigner', () => {
  const signer = new FileLinkSigner('x'.repeat(40), 300_000);
  it('verifies its own links and nothing changed', () => {
    const exp = signer.expiryFrom(1_000_000);
    expect(exp % 60_000).toBe(0);
    expect(exp).toBeGreaterThanOrEqual(1_300_000);
    const sig = new URL(signer.link('f1', 'original', 'u1', exp), 'http://x').searchParams.get('sig')!;
    expect(signer.verify('f1', 'original', 'u1', exp, sig, 1_000_000)).toBe('ok');
    expect(signer.verify('f1', 'thumb', 'u1', exp, sig, 1_000_000)).toBe('invalid');
    expect(signer.verify('f1', 'original', 'u2', exp, sig, 1_000_000)).toBe('invalid');
    expect(signer.verify('f1', 'original', 'u1', exp + 1, sig, 1_000_000)).toBe('invalid');
    expect(signer.verify('f1', 'original', 'u1', exp, sig, exp + 1)).toBe('expired');
    expect(new FileLinkSigner('y'.repeat(40), 300_000).verify('f1', 'original', 'u1', exp, sig, 1_000_000)).toBe('invalid');
  });
});

describe('file types', () => {
  it('serves only displayable media inline', () => {
    expect(servedAs('image/png')).toEqual({ contentType: 'image/png', inline: true });
    expect(servedAs('image/svg+xml')).toEqual({ contentType: 'application/octet-stream', inline: false });
    expect(servedAs('text/html')).toEqual({ contentType: 'application/octet-stream', inline: false });
  });
  it('blocks program names and fits kinds to content', () => {
    expect(isBlockedName('Setup.EXE')).toBe(true);
    expect(isBlockedName('exe')).toBe(false);
    expect(fitsKind('image', { mime: 'image/png', hasThumbnail: false })).toBe(false);
    expect(fitsKind('audio', { mime: 'video/webm', hasThumbnail: false })).toBe(true);
    expect(fitsKind('video', { mime: 'audio/ogg', hasThumbnail: false })).toBe(false);
  });
});
