import { describe, expect, it } from 'vitest';
import { LIMITS, USERNAME_PATTERN, checkMessageText, cleanDisplayName, codePointLength, isWellFormedText } from './limits.js';
import { MessageTextSchema } from './rest.js';

const GRIN = '\u{1F600}'; // 😀: one code point, two UTF-16 units
const FAMILY = '\u{1F468}\u200D\u{1F469}\u200D\u{1F467}'; // 👨‍👩‍👧: five code points, one visible glyph

describe('codePointLength', () => {
  it('counts astral characters once', () => {
    expect(codePointLength('')).toBe(0);
    expect(codePointLength('abc')).toBe(3);
    expect(codePointLength(GRIN)).toBe(1);
    expect(GRIN.length).toBe(2);
    expect(codePointLength(FAMILY)).toBe(5);
    expect(codePointLength('\u{20BB7}')).toBe(1); // 𠮷, a CJK character outside the BMP
  });
});

describe('checkMessageText', () => {
  it('accepts ordinary text', () => {
    expect(checkMessageText('hello')).toBeNull();
    expect(checkMessageText(' a ')).toBeNull();
  });

  it('accepts exactly the limit in ASCII and rejects one more', () => {
    expect(checkMessageText('a'.repeat(LIMITS.textMax))).toBeNull();
    expect(checkMessageText('a'.repeat(LIMITS.textMax + 1))).toBe('TEXT_TOO_LONG');
  });

  it('counts emoji as one: exactly 4000 emoji pass, 4001 fail', () => {
    expect(LIMITS.textMax).toBe(4000);
    const atLimit = GRIN.repeat(4000);
    expect(atLimit.length).toBe(8000); // UTF-16 units: twice the limit, still allowed
    expect(checkMessageText(atLimit)).toBeNull();
    expect(checkMessageText(GRIN.repeat(4001))).toBe('TEXT_TOO_LONG');
  });

  it('counts a mix of astral and BMP characters by code point', () => {
    const mixed = (GRIN + 'x').repeat(2000); // 4000 code points, 6000 units
    expect(checkMessageText(mixed)).toBeNull();
    expect(checkMessageText(mixed + GRIN)).toBe('TEXT_TOO_LONG');
    expect(checkMessageText(mixed + 'y')).toBe('TEXT_TOO_LONG');
  });

  it('counts the code points of a joined emoji sequence', () => {
    // 800 families = 4000 code points; one more character goes over.
    const families = FAMILY.repeat(800);
    expect(codePointLength(families)).toBe(4000);
    expect(checkMessageText(families)).toBeNull();
    expect(checkMessageText(families + 'a')).toBe('TEXT_TOO_LONG');
  });

  it('rejects empty and whitespace-only text', () => {
    for (const blank of ['', ' ', '   ', '\n', '\t\r\n', '\u00A0', '\u3000', '\u2003\u2029', ' \n '.repeat(100)]) {
      expect(checkMessageText(blank), JSON.stringify(blank)).toBe('TEXT_EMPTY');
    }
  });

  it('reports a long whitespace-only text as empty, not too long', () => {
    expect(checkMessageText(' '.repeat(LIMITS.textMax + 10))).toBe('TEXT_EMPTY');
  });

  it('keeps text as given: markup is not special', () => {
    expect(checkMessageText('<script>alert(1)</script>')).toBeNull();
    expect(checkMessageText('[x](javascript:alert(1))')).toBeNull();
  });
});

describe('cleanDisplayName (BR-30)', () => {
  it('trims leading and trailing whitespace', () => {
    expect(cleanDisplayName('Alex ')).toBe('Alex');
    expect(cleanDisplayName(' Alex')).toBe('Alex');
    expect(cleanDisplayName('\tAlex\n')).toBe('Alex');
  });

  it('collapses inner whitespace runs to one space', () => {
    expect(cleanDisplayName('Alex   Smith')).toBe('Alex Smith');
    expect(cleanDisplayName('Alex\u00A0\u00A0Smith')).toBe('Alex Smith');
  });

  it('removes zero-width characters', () => {
    expect(cleanDisplayName('Alex\u200B')).toBe('Alex'); // zero-width space
    expect(cleanDisplayName('\u200BAlex')).toBe('Alex');
    expect(cleanDisplayName('Al\u200Dex')).toBe('Alex'); // zero-width joiner
    expect(cleanDisplayName('Al\u200Cex')).toBe('Alex'); // zero-width non-joiner
    expect(cleanDisplayName('Al\u2060ex')).toBe('Alex'); // word joiner
    expect(cleanDisplayName('\uFEFFAlex')).toBe('Alex'); // byte order mark
  });

  it('removes bidi controls, so a name cannot reverse the text after it', () => {
    expect(cleanDisplayName('Alex\u202E')).toBe('Alex'); // right-to-left override
    expect(cleanDisplayName('\u202Dxela')).toBe('xela'); // left-to-right override
    expect(cleanDisplayName('a\u202Ab\u202Cc')).toBe('abc'); // embedding + pop
    expect(cleanDisplayName('a\u2066b\u2069c')).toBe('abc'); // isolates
    expect(cleanDisplayName('a\u200Eb\u200Fc')).toBe('abc'); // LRM, RLM
    expect(cleanDisplayName('a\u061Cb')).toBe('ab'); // Arabic letter mark
  });

  it('removes C0 and C1 control characters', () => {
    expect(cleanDisplayName('Al\u0000ex')).toBe('Alex');
    expect(cleanDisplayName('Al\u0007ex\u001B[31m')).toBe('Alex[31m');
    expect(cleanDisplayName('Al\u007Fex\u0085')).toBe('Alex');
    expect(cleanDisplayName('Alex\r\n')).toBe('Alex');
  });

  it('leaves nothing when the name is only invisible characters', () => {
    expect(cleanDisplayName('\u200B\u200B')).toBe('');
    expect(cleanDisplayName(' \u200B \u202E\uFEFF ')).toBe('');
    expect(cleanDisplayName('')).toBe('');
  });

  it('leaves nothing when the name is only blank-looking letters, marks or format characters', () => {
    for (const blank of ['\u3164', '\u3164\u3164', '\u2800', '\u115F\u1160', '\uFFA0', '\u0301\u0301', '\u034F', '\u00AD', '\u{E0041}\u{E0042}', '\uFE0F']) {
      expect(cleanDisplayName(blank), JSON.stringify(blank)).toBe('');
    }
    // They are kept inside a name that has something visible (emoji use variation selectors and joiners).
    expect(cleanDisplayName('\u2764\uFE0F')).toBe('\u2764\uFE0F');
    expect(cleanDisplayName('e\u0301')).toBe('\u00E9');
  });

  it('drops unpaired surrogates, which are not text', () => {
    expect(cleanDisplayName('Al\uD800ex')).toBe('Alex');
    expect(cleanDisplayName('\uDC00')).toBe('');
    expect(cleanDisplayName(`Alex ${GRIN}`)).toBe(`Alex ${GRIN}`);
  });

  it('makes every BR-30 look-alike of "Alex" built from spaces and invisible marks equal to "Alex"', () => {
    for (const variant of ['Alex ', ' Alex', 'Alex\u200B', '\u200BAlex', 'Al\u200Dex']) {
      expect(cleanDisplayName(variant), JSON.stringify(variant)).toBe('Alex');
    }
  });

  it('does not fold other scripts: a Cyrillic look-alike stays a different name', () => {
    // "Аlex" with Cyrillic А is visible text; telling it apart is the job of the unique user id.
    expect(cleanDisplayName('\u0410lex')).toBe('\u0410lex');
    expect(cleanDisplayName('\u0410lex')).not.toBe('Alex');
  });

  it('normalizes to NFC, so composed and decomposed forms are the same name', () => {
    expect(cleanDisplayName('Jose\u0301')).toBe('Jos\u00E9');
    expect(cleanDisplayName('Jos\u00E9')).toBe('Jos\u00E9');
  });

  it('keeps emoji and letters of every script', () => {
    expect(cleanDisplayName(`Alex ${GRIN}`)).toBe(`Alex ${GRIN}`);
    expect(cleanDisplayName('李小龙')).toBe('李小龙');
    expect(cleanDisplayName('مريم')).toBe('مريم');
  });
});

describe('isWellFormedText', () => {
  it('accepts text with surrogate pairs and refuses unpaired surrogates', () => {
    expect(isWellFormedText('hello')).toBe(true);
    expect(isWellFormedText(GRIN + FAMILY)).toBe(true);
    for (const bad of ['\uD800', 'a\uDFFFb', GRIN.slice(0, 1), GRIN.slice(1) + GRIN.slice(0, 1)]) {
      expect(isWellFormedText(bad), JSON.stringify(bad)).toBe(false);
    }
  });

  it('is checked by the message text schema', () => {
    expect(MessageTextSchema.safeParse('hi\uD800').success).toBe(false);
    expect(MessageTextSchema.safeParse(`hi ${GRIN}`).success).toBe(true);
  });
});

describe('USERNAME_PATTERN', () => {
  it('allows only ASCII letters, digits and _ . -', () => {
    expect(USERNAME_PATTERN.test('alex_01.b-c')).toBe(true);
    for (const bad of ['alex smith', 'al\u200Bex', '\u0410lex', 'alex!', '']) {
      expect(USERNAME_PATTERN.test(bad), JSON.stringify(bad)).toBe(false);
    }
  });
});
