import { createI18n } from 'vue-i18n';
import en from './en';
import zhCN from './zh-CN';

export const SUPPORTED_LOCALES = ['en', 'zh-CN'] as const;
export type Locale = (typeof SUPPORTED_LOCALES)[number];

/** Names shown in the language picker, each in its own language. */
export const LOCALE_NAMES: Record<Locale, string> = { en: 'English', 'zh-CN': '简体中文' };

const STORAGE_KEY = 'kkchat.locale';

function isLocale(value: unknown): value is Locale {
  return typeof value === 'string' && (SUPPORTED_LOCALES as readonly string[]).includes(value);
}

/** Maps a BCP 47 tag from the browser to a supported locale: any Chinese goes to zh-CN, everything else to en. */
export function localeFromLanguage(language: string | undefined): Locale {
  return language?.toLowerCase().startsWith('zh') ? 'zh-CN' : 'en';
}

/** The remembered choice, else the browser's language (first visit). */
export function initialLocale(): Locale {
  try {
    const stored = localStorage.getItem(STORAGE_KEY);
    if (isLocale(stored)) return stored;
  } catch {
    // Storage can be unavailable (private mode, sandboxed frames); fall back to the browser language.
  }
  return localeFromLanguage(typeof navigator === 'undefined' ? undefined : navigator.language);
}

export type MessageSchema = typeof en;

export function createAppI18n(locale: Locale = initialLocale()) {
  return createI18n<[MessageSchema], Locale, false>({
    legacy: false,
    locale,
    fallbackLocale: 'en',
    messages: { en, 'zh-CN': zhCN },
  });
}

export type AppI18n = ReturnType<typeof createAppI18n>;

/**
 * Switches the interface language (`localeRef` is `useI18n().locale` or `i18n.global.locale`), remembers it and
 * updates `<html lang>`.
 */
export function setLocale(localeRef: { value: string }, locale: Locale): void {
  localeRef.value = locale;
  try {
    localStorage.setItem(STORAGE_KEY, locale);
  } catch {
    // Not remembered when storage is unavailable; the choice still applies to this page.
  }
  if (typeof document !== 'undefined') document.documentElement.lang = locale;
}

export { isLocale };
