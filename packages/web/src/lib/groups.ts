import type { Message, SystemEvent } from '@kkchat/protocol';

type Translate = (key: string, values?: Record<string, unknown>) => string;

/**
 * The line a system message shows in the timeline. Names come from `nameOf` (members we know) and are
 * interpolated as text by vue-i18n, never as HTML (BR-27).
 */
export function systemText(event: SystemEvent, nameOf: (userId: string) => string, t: Translate, myId = ''): string {
  // A system administrator is not a member; the line says "An administrator", not who.
  const actor = event.byAdmin ? t('groups.administrator') : nameOf(event.actorId);
  // "You" starts a line; further in, the viewer is "you".
  const users = (event.userIds ?? []).map((id) => (id === myId ? t('groups.youObject') : nameOf(id))).join(', ');
  const values = { actor, users, value: event.value ?? '' };
  switch (event.type) {
    case 'member_joined':
      return t(event.userIds?.length === 1 && event.userIds[0] === event.actorId ? 'groups.system.member_joined_self' : 'groups.system.member_joined', values);
    case 'role_changed':
      return t(event.role === 'admin' ? 'groups.system.role_admin' : 'groups.system.role_member', values);
    case 'muted_all_changed':
      return t(event.mutedAll ? 'groups.system.muted_all_on' : 'groups.system.muted_all_off', values);
    case 'member_muted':
      return t(event.mutedUntil ? 'groups.system.member_muted_on' : 'groups.system.member_muted_off', values);
    default:
      return t(`groups.system.${event.type}`, values);
  }
}

export interface TextSegment {
  text: string;
  mention: boolean;
}

/**
 * Splits message text into plain runs and `@name` mentions of the given names (longest name first, so
 * "@Ann Lee" wins over "@Ann"). The segments are rendered as text; highlighting is a CSS class only.
 */
export function mentionSegments(text: string, names: readonly string[]): TextSegment[] {
  const candidates = [...new Set(names.filter((n) => n.length > 0))].sort((a, b) => b.length - a.length);
  if (candidates.length === 0 || !text.includes('@')) return [{ text, mention: false }];
  const segments: TextSegment[] = [];
  let plain = '';
  let i = 0;
  while (i < text.length) {
    if (text[i] === '@') {
      const name = candidates.find((candidate) => text.startsWith(candidate, i + 1));
      if (name) {
        if (plain) segments.push({ text: plain, mention: false });
        plain = '';
        segments.push({ text: `@${name}`, mention: true });
        i += name.length + 1;
        continue;
      }
    }
    plain += text[i];
    i++;
  }
  if (plain) segments.push({ text: plain, mention: false });
  return segments;
}

/** What the message list needs to show a group conversation. */
export interface GroupView {
  nameOf(userId: string): string;
  mentionNames: readonly string[];
  systemLine(message: Extract<Message, { kind: 'system' }>): string;
}

/** The names a member can be mentioned by: the display name and the username (people type either). */
export function memberNames(user: { displayName: string; username: string }): string[] {
  return [...new Set([user.displayName, user.username].filter((n) => n.length > 0))];
}

/**
 * The mentions of a group message from its text: members whose `@name` appears (not the sender), and `@all`
 * when the sender may use it (the server checks again and drops ids that are not members).
 */
export function mentionsIn(
  text: string,
  members: readonly { user: { id: string; displayName: string; username: string } }[],
  myId: string,
  mayMentionAll: boolean,
): { mentions?: string[]; mentionAll?: boolean } {
  const names = members.filter((m) => m.user.id !== myId).flatMap((m) => memberNames(m.user).map((name) => ({ id: m.user.id, name })));
  const mentioned = new Set<string>();
  for (const segment of mentionSegments(text, names.map((n) => n.name))) {
    if (!segment.mention) continue;
    for (const n of names) if (`@${n.name}` === segment.text) mentioned.add(n.id);
  }
  const mentionAll = mayMentionAll && /(^|\s)@all\b/i.test(text);
  return { ...(mentioned.size > 0 ? { mentions: [...mentioned] } : {}), ...(mentionAll ? { mentionAll: true } : {}) };
}
