import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '@kkchat/protocol';
import { CLIENT_ERROR_CODES } from '@kkchat/client';
import en from './en';
import zhCN from './zh-CN';
import { localeFromLanguage } from './index';

function keys(tree: object, prefix = ''): string[] {
  return Object.entries(tree).flatMap(([key, value]) =>
    typeof value === 'object' && value !== null ? keys(value as object, `${prefix}${key}.`) : [`${prefix}${key}`],
  );
}

function placeholders(text: string): string[] {
  return [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).sort();
}

describe('UI messages', () => {
  it('has the same keys in English and Chinese, none empty', () => {
    expect(keys(zhCN).sort()).toEqual(keys(en).sort());
    for (const key of keys(zhCN)) {
      const value = key.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown>)[part], zhCN);
      expect(typeof value === 'string' && value.length > 0, key).toBe(true);
    }
  });

  it('uses the same placeholders in both languages', () => {
    for (const key of keys(en)) {
      const get = (tree: object) => key.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown>)[part], tree) as string;
      expect(placeholders(get(zhCN)), key).toEqual(placeholders(get(en)));
    }
  });

  it('translates every error code the server or the SDK can produce', () => {
    for (const code of [...ERROR_CODES, ...Object.keys(CLIENT_ERROR_CODES)]) {
      expect(en.errors, code).toHaveProperty(code);
      expect(zhCN.errors, code).toHaveProperty(code);
    }
  });

  it('picks Chinese for any zh browser language and English otherwise', () => {
    expect(localeFromLanguage('zh-CN')).toBe('zh-CN');
    expect(localeFromLanguage('zh-TW')).toBe('zh-CN');
    expect(localeFromLanguage('en-GB')).toBe('en');
    expect(localeFromLanguage('fr')).toBe('en');
    expect(localeFromLanguage(undefined)).toBe('en');
  });
});
