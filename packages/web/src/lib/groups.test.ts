import { describe, expect, it } from 'vitest';
import { mentionSegments, mentionsIn, systemText } from './groups';

describe('mentionSegments', () => {
  it('splits known @names out of the text, longest name first', () => {
    expect(mentionSegments('hi @Ann Lee and @Ann!', ['Ann', 'Ann Lee'])).toEqual([
      { text: 'hi ', mention: false },
      { text: '@Ann Lee', mention: true },
      { text: ' and ', mention: false },
      { text: '@Ann', mention: true },
      { text: '!', mention: false },
    ]);
  });

  it('leaves markup in names and text as plain segments (rendered as text, BR-27)', () => {
    const name = '<img src=x onerror=alert(1)>';
    expect(mentionSegments(`@${name} <b>x</b>`, [name])).toEqual([
      { text: `@${name}`, mention: true },
      { text: ' <b>x</b>', mention: false },
    ]);
    expect(mentionSegments('mail a@b.c', ['Bob'])).toEqual([{ text: 'mail a@b.c', mention: false }]);
  });
});

describe('systemText', () => {
  const t = (key: string, values?: Record<string, unknown>) => `${key}:${JSON.stringify(values ?? {})}`;
  const names: Record<string, string> = { o: 'Olga', m: 'Max' };
  const nameOf = (id: string) => names[id] ?? '?';

  it('names the actor and the members concerned', () => {
    expect(systemText({ type: 'member_removed', actorId: 'o', userIds: ['m'] }, nameOf, t)).toBe(
      'groups.system.member_removed:{"actor":"Olga","users":"Max","value":""}',
    );
    expect(systemText({ type: 'member_joined', actorId: 'm', userIds: ['m'] }, nameOf, t)).toContain('member_joined_self');
    expect(systemText({ type: 'role_changed', actorId: 'o', userIds: ['m'], role: 'admin' }, nameOf, t)).toContain('role_admin');
  });
});

describe('mentionsIn', () => {
  const members = [
    { user: { id: 'a', displayName: 'Ann Lee', username: 'ann' } },
    { user: { id: 'b', displayName: '', username: 'bob' } },
    { user: { id: 'me', displayName: 'Me', username: 'me' } },
  ];
  it('finds members named with @, never the sender, and @all only when allowed', () => {
    expect(mentionsIn('hi @Ann Lee and @bob, @Me', members, 'me', false)).toEqual({ mentions: ['a', 'b'] });
    expect(mentionsIn('@all meeting', members, 'me', false)).toEqual({});
    expect(mentionsIn('@all meeting', members, 'me', true)).toEqual({ mentionAll: true });
  });

  it('takes a username as well as a display name', () => {
    expect(mentionsIn('@ann see this', members, 'me', false)).toEqual({ mentions: ['a'] });
    expect(mentionsIn('@ann and @Ann Lee', members, 'me', false)).toEqual({ mentions: ['a'] });
  });
});
