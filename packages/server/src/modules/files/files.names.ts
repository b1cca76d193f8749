import { codePointLength, LIMITS } from '@kkchat/protocol';

// Controls (C0, DEL, C1), bidi embeddings/overrides/isolates and marks, zero-width characters, BOM.
// eslint-disable-next-line no-control-regex
const INVISIBLE = /[\u0000-\u001F\u007F-\u009F\u061C\u200B-\u200F\u202A-\u202E\u2060-\u2069\uFEFF]/g;
/** Characters Windows refuses in names; replaced so a downloaded file can be saved under its name. */
const RESERVED = /[<>:"|?*]/g;

/**
 * A file name fit to show and to put in a download header (BR-25, BR-26): NFC; only the last path segment (either
 * separator); controls, bidi overrides and zero-width characters removed; unpaired surrogates dropped;
 * whitespace collapsed; leading dots and trailing dots/spaces trimmed (no hidden files, no `.` or `..`); at most
 * LIMITS.fileNameMax code points, keeping the extension; `file` when nothing is left. Percent signs stay
 * literal: `a%20b.txt` is never decoded. The name is display metadata only: storage keys never use it.
 */
export function sanitizeFileName(raw: string): string {
  let name = raw.normalize('NFC').replace(/[\uD800-\uDFFF]/gu, '');
  name = name.split(/[/\\]/).pop() ?? '';
  name = name.replace(INVISIBLE, '').replace(RESERVED, '_').replace(/\s+/g, ' ');
  name = name.replace(/^[\s.]+/, '').replace(/[\s.]+$/, '');
  if (codePointLength(name) > LIMITS.fileNameMax) name = capKeepingExtension(name, LIMITS.fileNameMax);
  return name === '' ? 'file' : name;
}

function capKeepingExtension(name: string, max: number): string {
  const chars = [...name];
  const dot = name.lastIndexOf('.');
  const extension = dot > 0 ? [...name.slice(dot)] : [];
  if (extension.length === 0 || extension.length > 16) return chars.slice(0, max).join('').trimEnd();
  return chars.slice(0, max - extension.length).join('').trimEnd() + extension.join('');
}

/** The extension in lower case, without the dot ('' when none). */
export function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
}

/**
 * `Content-Disposition` with an ASCII fallback and the exact name in RFC 5987/6266 `filename*` (UTF-8,
 * percent-encoded), so every browser saves the file under its real name (BR-26).
 */
export function contentDisposition(type: 'inline' | 'attachment', name: string): string {
  const fallback = name.replace(/[^\x20-\x7E]/g, '_').replace(/["\\]/g, '_') || 'file';
  return `${type}; filename="${fallback}"; filename*=UTF-8''${encodeRfc5987(name)}`;
}

function encodeRfc5987(value: string): string {
  // encodeURIComponent leaves ' ( ) * unescaped, which are not attr-chars in RFC 5987.
  return encodeURIComponent(value).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
