/** Limits shared by the server (which enforces them) and clients (which check early for a better message). */
export const LIMITS = {
  usernameMin: 3,
  usernameMax: 32,
  displayNameMax: 64,
  bioMax: 280,
  passwordMin: 8,
  passwordMax: 256,
  friendRequestNoteMax: 200,
  /** Message text, counted in Unicode code points (an emoji counts as one). */
  textMax: 4000,
  clientMsgIdMax: 64,
  historyPageMax: 100,
  historyPageDefault: 50,
  searchLimitMax: 50,
  deviceNameMax: 100,
  /** Groups: name, description and announcement lengths (code points), mentions per message, members added at once. */
  groupNameMax: 64,
  groupDescriptionMax: 500,
  groupAnnouncementMax: 2000,
  groupAvatarMax: 500,
  mentionsMax: 50,
  groupAddMax: 100,
  /** Files: a sanitized name's length (code points), ids per links request, a voice clip or video's length. */
  fileNameMax: 200,
  fileLinksMax: 100,
  mediaDurationMaxMs: 24 * 3600 * 1000,
  /** Largest side of a thumbnail (px). */
  thumbnailMax: 320,
  /** Largest WebSocket frame the server accepts; larger frames close the socket with 1009. */
  wsMaxFrameBytes: 64 * 1024,
} as const;

export const USERNAME_PATTERN = /^[A-Za-z0-9_.-]+$/;

/** Characters that must never appear in names shown as identity: controls, bidi overrides, zero-width marks. */
// eslint-disable-next-line no-control-regex
const INVISIBLE_OR_CONTROL = /[\u0000-\u001F\u007F-\u009F\u061C\u200B-\u200F\u202A-\u202E\u2060-\u2069\uFEFF]/g;

/**
 * A UTF-16 surrogate that is not part of a pair. JSON can carry one (`"\ud800"`), but it is not text: UTF-8
 * (and so the database) cannot store it, and it would come back as replacement characters.
 */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** True when the string is well-formed Unicode (no unpaired surrogate). */
export function isWellFormedText(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

/**
 * Something that shows as a glyph: not a mark, format character or separator, nor one of the letters that
 * render blank (Hangul fillers, the blank braille pattern) and are used to make a name look empty.
 */
const VISIBLE = /[^\p{M}\p{Cf}\p{Z}\p{Cc}\p{Cs}\u115F\u1160\u3164\uFFA0\u2800]/u;

/**
 * Cleans a name shown as identity (display name): NFC, controls/bidi/zero-width and unpaired surrogates removed,
 * whitespace collapsed and trimmed. Returns '' when nothing visible is left (BR-30).
 */
export function cleanDisplayName(raw: string): string {
  const name = raw.normalize('NFC').replace(INVISIBLE_OR_CONTROL, '').replace(/[\uD800-\uDFFF]/gu, '').replace(/\s+/g, ' ').trim();
  return VISIBLE.test(name) ? name : '';
}

/** Length in Unicode code points, so that an astral character (most emoji) counts once. */
export function codePointLength(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

/** Checks a text message; returns the error code to answer with, or null when the text is acceptable. */
export function checkMessageText(text: string): 'TEXT_EMPTY' | 'TEXT_TOO_LONG' | null {
  if (text.trim().length === 0) return 'TEXT_EMPTY';
  // Cheap upper bound first: a string longer than 2 * max UTF-16 units cannot fit.
  if (text.length > LIMITS.textMax * 2 || codePointLength(text) > LIMITS.textMax) return 'TEXT_TOO_LONG';
  return null;
}
