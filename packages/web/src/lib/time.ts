/** Locale-aware date and time labels for lists, bubbles and presence. */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

function startOfDay(ts: number): number {
  const d = new Date(ts);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

/** Clock time of a message: `14:05` (or `2:05 PM` where the locale says so). */
export function formatClock(ts: number, locale: string): string {
  return new Intl.DateTimeFormat(locale, { hour: 'numeric', minute: '2-digit' }).format(ts);
}

/** A day label for separators in the chat: "Today", "Yesterday" (given), else a date. */
export function formatDay(ts: number, now: number, locale: string, labels: { today: string; yesterday: string }): string {
  const days = Math.round((startOfDay(now) - startOfDay(ts)) / DAY);
  if (days === 0) return labels.today;
  if (days === 1) return labels.yesterday;
  const sameYear = new Date(ts).getFullYear() === new Date(now).getFullYear();
  return new Intl.DateTimeFormat(locale, {
    weekday: days < 7 ? 'long' : undefined,
    month: 'long',
    day: 'numeric',
    year: sameYear ? undefined : 'numeric',
  }).format(ts);
}

/** Time in the conversation list: clock today, "Yesterday", weekday this week, else a short date. */
export function formatListTime(ts: number, now: number, locale: string, yesterday: string): string {
  const days = Math.round((startOfDay(now) - startOfDay(ts)) / DAY);
  if (days <= 0) return formatClock(ts, locale);
  if (days === 1) return yesterday;
  if (days < 7) return new Intl.DateTimeFormat(locale, { weekday: 'short' }).format(ts);
  return new Intl.DateTimeFormat(locale, { month: 'numeric', day: 'numeric' }).format(ts);
}

/** "5 minutes ago", "yesterday", … for last-seen and session times; `justNow` under a minute. */
export function formatRelative(ts: number, now: number, locale: string, justNow: string): string {
  const diff = ts - now;
  const abs = Math.abs(diff);
  if (abs < MINUTE) return justNow;
  const rtf = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });
  if (abs < HOUR) return rtf.format(Math.round(diff / MINUTE), 'minute');
  if (abs < DAY) return rtf.format(Math.round(diff / HOUR), 'hour');
  if (abs < 7 * DAY) return rtf.format(Math.round(diff / DAY), 'day');
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium' }).format(ts);
}
