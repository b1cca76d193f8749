import type { AuditAction } from '@kkchat/protocol';

/** Date and time of an admin record, e.g. "3 Dec 2026, 14:05". */
export function formatDateTime(ts: number, locale: string): string {
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' }).format(ts);
}

export function formatDate(ts: number, locale: string): string {
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium' }).format(ts);
}

/** The i18n key of an audit action (`user.disabled` → `admin.audit.actions.user_disabled`). */
export function auditActionKey(action: AuditAction): string {
  return `admin.audit.actions.${action.replace('.', '_')}`;
}

/** Bytes as "12.3 MB" in the locale's number format. */
export function formatBytes(bytes: number, locale: string): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${new Intl.NumberFormat(locale, { maximumFractionDigits: unit === 0 ? 0 : 1 }).format(value)} ${units[unit]}`;
}

/** Minutes east of UTC of this browser, as the dashboard asks for its days. */
export function tzOffsetMinutes(now = new Date()): number {
  return -now.getTimezoneOffset();
}
