/**
 * Splits message text into plain-text and link tokens. Only http(s) URLs become links (a bare `www.` host is
 * taken as https); every other scheme (`javascript:`, `data:`, `vbscript:`, `file:` …) stays plain text. The
 * caller renders text tokens through Vue interpolation, so nothing in a message is ever parsed as HTML.
 */
export type LinkToken = { kind: 'text'; text: string } | { kind: 'link'; text: string; href: string };

/**
 * A URL candidate: an explicit http(s) scheme or a `www.` host, not glued to a preceding letter or digit
 * (`xhttp://` is not a link), running up to whitespace or a character that cannot appear unescaped in a URL.
 */
const CANDIDATE = /(?<![\p{L}\p{N}_])(?:https?:\/\/|www\.)[^\s<>"'`\u0000-\u001F\u007F]+/giu;

/** Punctuation that usually ends a sentence rather than a URL. */
const TRAILING_PUNCTUATION = new Set(['.', ',', ';', ':', '!', '?', '*', '_', '~']);

const BRACKETS: Record<string, string> = { ')': '(', ']': '[', '}': '{' };

/**
 * Drops trailing punctuation and unbalanced closing brackets: `(see https://a.b/c).` links `https://a.b/c`.
 * One pass from the end with bracket counts taken once, so a candidate made of thousands of `)` costs linear
 * time, not a recount per character (a hostile message must not freeze every client that renders it).
 */
function trimCandidate(candidate: string): string {
  const counts = new Map<string, number>();
  for (const ch of candidate) if ('()[]{}'.includes(ch)) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let end = candidate.length;
  while (end > 0) {
    const last = candidate[end - 1]!;
    if (TRAILING_PUNCTUATION.has(last)) {
      end--;
      continue;
    }
    const open = Object.hasOwn(BRACKETS, last) ? BRACKETS[last]! : undefined;
    const closes = counts.get(last) ?? 0;
    if (open !== undefined && closes > (counts.get(open) ?? 0)) {
      counts.set(last, closes - 1);
      end--;
      continue;
    }
    return candidate.slice(0, end);
  }
  return '';
}

/** Returns the href for a candidate, or null when it is not a well-formed http(s) URL with a host. */
export function safeHref(candidate: string): string | null {
  const withScheme = /^www\./i.test(candidate) ? `https://${candidate}` : candidate;
  let parsed: URL;
  try {
    parsed = new URL(withScheme);
  } catch {
    return null;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return null;
  if (parsed.hostname === '' || parsed.username !== '' || parsed.password !== '') return null;
  return parsed.href;
}

/** Tokenizes `text`; concatenating the tokens' `text` gives back the input exactly. */
export function linkify(text: string): LinkToken[] {
  const tokens: LinkToken[] = [];
  let plainStart = 0;
  const pushText = (end: number): void => {
    if (end > plainStart) {
      const previous = tokens.at(-1);
      const piece = text.slice(plainStart, end);
      if (previous?.kind === 'text') previous.text += piece;
      else tokens.push({ kind: 'text', text: piece });
    }
  };
  for (const match of text.matchAll(CANDIDATE)) {
    const start = match.index;
    const url = trimCandidate(match[0]);
    const href = url.length > 0 ? safeHref(url) : null;
    // A bare scheme ("http://") or an unparsable candidate stays text.
    if (href === null || /^(?:https?:\/\/|www\.)$/i.test(url)) continue;
    pushText(start);
    tokens.push({ kind: 'link', text: url, href });
    plainStart = start + url.length;
  }
  pushText(text.length);
  return tokens;
}
