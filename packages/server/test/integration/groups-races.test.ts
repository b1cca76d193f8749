import type { Message } from '@kkchat/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGroup, groupApi, newUser } from '../support/groups.js';
import { eventually, framesOf, history, pingPong, RawSocket, startServer, wsSend, type User } from '../support/helpers.js';
import type { TestServer } from '../support/test-server.js';

let server: TestServer;
let groups: ReturnType<typeof groupApi>;
const sockets: RawSocket[] = [];

beforeAll(async () => {
  server = await startServer();
  groups = groupApi(server);
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await server.close();
});

async function connect(user: User): Promise<RawSocket> {
  const socket = await RawSocket.connect(server.wsUrl, user.accessToken);
  sockets.push(socket);
  return socket;
}

describe('group races', () => {
  it('a member sending while being removed: each message is stored before the removal and delivered to all, or refused', async () => {
    for (let round = 0; round < 3; round++) {
      const g = await buildGroup(server, { prefix: 'race' });
      const m = g.members[0]!;
      const [mSend, mOther, aSocket] = [await connect(m), await connect(m), await connect(g.admin)];
      const sends = Array.from({ length: 40 }, (_, i) => wsSend(mSend, g.conversationId, `m${i}`));
      const removal = new Promise((r) => setTimeout(r, round * 3)).then(() => groups.remove(g.owner, g.conversationId, m.user.id));
      const [replies] = await Promise.all([Promise.all(sends), removal]);
      const all = (await history(server, g.owner, g.conversationId, 'after=0&limit=100')).body.messages;
      const removalSeq = all.find((x) => x.kind === 'system' && x.event.type === 'member_removed')!.seq;
      const acked = replies.flatMap((r) => (r.type === 'ack' ? [r.message] : []));
      for (const r of replies) if (r.type === 'error') expect(r.code).toBe('NOT_MEMBER');
      // Stored before the removal, never after it.
      for (const message of acked) expect(message.seq).toBeLessThan(removalSeq);
      expect(all.filter((x) => x.senderId === m.user.id && x.kind === 'text').map((x) => x.seq)).toEqual(acked.map((x) => x.seq));
      // Delivered to everyone who was a member then, the removed member's other device included.
      await pingPong(aSocket);
      await pingPong(mOther);
      const seen = (s: RawSocket) => framesOf(s, 'message').map((f) => f.message.seq);
      for (const message of acked) {
        expect(seen(aSocket)).toContain(message.seq);
        expect(seen(mOther)).toContain(message.seq);
      }
      // Nothing from after the removal reaches the removed member.
      expect(seen(mOther).every((seq) => seq <= removalSeq)).toBe(true);
      // Seqs stay gapless.
      expect(all.map((x) => x.seq)).toEqual(all.map((_, i) => i + 1));
    }
  });

  it('concurrent joins through an open link never exceed the member limit', async () => {
    const g = await buildGroup(server, { members: 1, prefix: 'lim' });
    expect((await groups.update(g.owner, g.conversationId, { joinMode: 'open', memberLimit: 6 })).status).toBe(200);
    const code = (await groups.link(g.owner, g.conversationId)).body.link.code;
    const joiners = await Promise.all(Array.from({ length: 12 }, () => newUser(server, 'lj')));
    const results = await Promise.all(joiners.map((u) => groups.join(u, code)));
    const joined = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status !== 200);
    expect(joined).toHaveLength(3);
    for (const r of refused) expect((r.body as unknown as { error: { code: string } }).error.code).toBe('GROUP_FULL');
    const summary = (await groups.get(g.owner, g.conversationId)).body.conversation;
    expect(summary.group?.memberCount).toBe(6);
    expect((await groups.members(g.owner, g.conversationId)).body.members).toHaveLength(6);
    // Refused joins used no seq: the history is gapless and has exactly three join events from the link.
    const all: Message[] = (await history(server, g.owner, g.conversationId, 'after=0&limit=100')).body.messages;
    expect(all.map((x) => x.seq)).toEqual(all.map((_, i) => i + 1));
    await eventually(() => all.filter((x) => x.kind === 'system' && x.event.type === 'member_joined').length === 3);
  });

  it('adding past the limit is refused as a whole (GROUP_FULL)', async () => {
    const g = await buildGroup(server, { members: 1, prefix: 'lim2' });
    await groups.update(g.owner, g.conversationId, { memberLimit: 4 });
    const friends = await Promise.all([newUser(server), newUser(server)]);
    const { befriend } = await import('../support/helpers.js');
    for (const f of friends) await befriend(server.url, g.owner, f);
    const response = await groups.add(g.owner, g.conversationId, friends.map((f) => f.user.id));
    expect((response.body as unknown as { error: { code: string } }).error.code).toBe('GROUP_FULL');
    expect((await groups.add(g.owner, g.conversationId, [friends[0]!.user.id])).status).toBe(200);
  });
});
