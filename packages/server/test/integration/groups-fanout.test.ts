import type { ServerFrame } from '@kkchat/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConversationRepository } from '../../src/modules/conversations/conversations.repository.js';
import { GroupMembershipCache } from '../../src/modules/groups/groups.cache.js';
import { GroupRepository } from '../../src/modules/groups/groups.repository.js';
import type { BusEvent } from '../../src/platform/events/event-bus.js';
import { buildGroup, groupApi } from '../support/groups.js';
import { nextRid, RawSocket, restSend, startServer, wsSend, type User } from '../support/helpers.js';
import type { TestServer } from '../support/test-server.js';

/**
 * The design properties of group fan-out (docs/architecture.md, Groups), observed on the real server: the
 * gateway serializes a message frame once for all recipient sockets, a send into a warm group reads no member
 * list from the database, and delivery happens only after the group's lock is released. The spies here wrap
 * the real methods and pass every call through.
 */
let server: TestServer;
let groups: ReturnType<typeof groupApi>;
const sockets: RawSocket[] = [];

beforeAll(async () => {
  server = await startServer();
  groups = groupApi(server);
});
afterEach(() => {
  vi.restoreAllMocks();
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await server.close();
});

/** A socket that also keeps the raw text of every frame it receives from now on. */
async function connect(user: User): Promise<RawSocket & { raw: string[] }> {
  const socket = (await RawSocket.connect(server.wsUrl, user.accessToken)) as RawSocket & { raw: string[] };
  socket.raw = [];
  socket.ws.on('message', (data) => socket.raw.push(String(data)));
  sockets.push(socket);
  return socket;
}

const isMessageOf = (clientMsgId: string) => (f: Extract<ServerFrame, { type: 'message' }>) => f.message.clientMsgId === clientMsgId;

/** Every repository read that returns a conversation's member list. */
function spyOnMemberListLoads() {
  return {
    loadState: vi.spyOn(GroupRepository.prototype, 'loadState'),
    activeMembers: vi.spyOn(GroupRepository.prototype, 'activeMembers'),
    activeMemberIds: vi.spyOn(GroupRepository.prototype, 'activeMemberIds'),
    members: vi.spyOn(ConversationRepository.prototype, 'members'),
    memberIds: vi.spyOn(ConversationRepository.prototype, 'memberIds'),
    viewersOf: vi.spyOn(ConversationRepository.prototype, 'viewersOf'),
  };
}
const callCounts = (spies: ReturnType<typeof spyOnMemberListLoads>) => Object.fromEntries(Object.entries(spies).map(([name, spy]) => [name, spy.mock.calls.length]));

describe('group fan-out design properties', () => {
  it('the gateway serializes a group message once and writes the same bytes to every recipient socket', async () => {
    const g = await buildGroup(server, { members: 3, prefix: 'fs' });
    const [m1, m2, m3] = g.members as [User, User, User];
    const sender = await connect(g.owner);
    const recipients = [await connect(g.owner), await connect(g.admin), await connect(m1), await connect(m1), await connect(m2), await connect(m3)];
    const encode = vi.spyOn(JSON, 'stringify');
    const clientMsgId = nextRid('fan');

    const ack = await wsSend(sender, g.conversationId, 'one encoding for all', clientMsgId);
    expect(ack.type).toBe('ack');
    for (const socket of recipients) await socket.next('message', isMessageOf(clientMsgId));

    const encodings = encode.mock.calls.filter(([value]) => (value as ServerFrame | undefined)?.type === 'message');
    expect(encodings).toHaveLength(1);
    const bytes = encode.mock.results[encode.mock.calls.indexOf(encodings[0]!)]!.value as string;
    for (const socket of recipients) expect(socket.raw.filter((text) => text.includes(clientMsgId))).toEqual([bytes]);
    // The sending socket got its ack, not a second copy.
    expect(sender.raw.filter((text) => text.includes(clientMsgId)).map((text) => (JSON.parse(text) as ServerFrame).type)).toEqual(['ack']);
  });

  it('a send into a warm group loads no member list from the database; a change reloads it once', async () => {
    const g = await buildGroup(server, { members: 2, prefix: 'fw' });
    const [m1, m2] = g.members as [User, User];
    const [owner, admin, s1, s2] = [await connect(g.owner), await connect(g.admin), await connect(m1), await connect(m2)];
    expect((await restSend(server, m1, g.conversationId, 'warm up')).status).toBe(201);

    const loads = spyOnMemberListLoads();
    // A settings change drops the cached state and reloads it: the spies see the load when there is one.
    expect((await groups.update(g.owner, g.conversationId, { name: 'Renamed' })).status).toBe(200);
    expect(loads.loadState).toHaveBeenCalledTimes(1);
    expect(loads.loadState).toHaveBeenCalledWith(g.conversationId);

    for (const spy of Object.values(loads)) spy.mockClear();
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const id = nextRid('warm');
      ids.push(id);
      if (i % 2 === 0) expect((await restSend(server, i === 0 ? g.admin : m2, g.conversationId, `rest ${i}`, id)).status).toBe(201);
      else expect((await wsSend(s1, g.conversationId, `ws ${i}`, id)).type).toBe('ack');
    }
    // Every member got every message, from the audience held in memory.
    for (const socket of [owner, admin, s2]) for (const id of ids) await socket.next('message', isMessageOf(id));
    expect(callCounts(loads)).toEqual({ loadState: 0, activeMembers: 0, activeMemberIds: 0, members: 0, memberIds: 0, viewersOf: 0 });
  });

  it('messages and change notices are delivered after the group lock is released, never while it is held', async () => {
    const g = await buildGroup(server, { members: 2, prefix: 'fl' });
    const [m1, m2] = g.members as [User, User];
    const [ownerSocket, m1Socket] = [await connect(g.owner), await connect(m1)];

    // The real lock, with a note of which groups are inside it at each moment.
    const held = new Set<string>();
    const withLock = GroupMembershipCache.prototype.withLock;
    vi.spyOn(GroupMembershipCache.prototype, 'withLock').mockImplementation(function (this: GroupMembershipCache, id: string, task: () => Promise<unknown>) {
      return withLock.call(this, id, async () => {
        held.add(id);
        try {
          return await task();
        } finally {
          held.delete(id);
        }
      });
    } as typeof withLock);
    const storedUnderLock: boolean[] = [];
    const appendMessage = ConversationRepository.prototype.appendMessage;
    vi.spyOn(ConversationRepository.prototype, 'appendMessage').mockImplementation(function (this: ConversationRepository, ...args: Parameters<typeof appendMessage>) {
      if (args[0].conversationId === g.conversationId) storedUnderLock.push(held.has(g.conversationId));
      return appendMessage.apply(this, args);
    });
    // The embedded bus hands each event to the gateway synchronously: an event's publication is its delivery.
    const deliveries: { frame: string; underLock: boolean }[] = [];
    const unsubscribe = server.kkchat.platform.bus.subscribe((event: BusEvent) => {
      if (event.kind !== 'deliver') return;
      const frame = event.frame;
      const conversationId = frame.type === 'message' ? frame.message.conversationId : 'conversationId' in frame ? frame.conversationId : null;
      if (conversationId !== g.conversationId) return;
      deliveries.push({ frame: frame.type === 'message' ? `message:${frame.message.kind}` : frame.type, underLock: held.has(g.conversationId) });
    });
    try {
      const sent = nextRid('lk');
      expect((await wsSend(ownerSocket, g.conversationId, 'over the socket', sent)).type).toBe('ack');
      expect((await restSend(server, m2, g.conversationId, 'over REST')).status).toBe(201);
      expect((await groups.update(g.admin, g.conversationId, { announcement: 'news' })).status).toBe(200);
      expect((await groups.mute(g.admin, g.conversationId, m2.user.id, Date.now() + 60_000)).status).toBe(200);
      expect((await groups.remove(g.owner, g.conversationId, m2.user.id)).status).toBe(200);
      await m1Socket.next('message', isMessageOf(sent));
      await m1Socket.next('message', (f) => f.message.kind === 'system' && f.message.event.type === 'member_removed');
    } finally {
      unsubscribe();
    }
    // Five stores, each under the lock (the note-taking works), and every delivery after it.
    expect(storedUnderLock).toEqual([true, true, true, true, true]);
    expect(deliveries.map((d) => d.frame)).toEqual([
      'message:text',
      'message:text',
      'message:system',
      'group.updated',
      'message:system',
      'group.updated',
      'message:system',
      'group.updated',
      'group.removed',
    ]);
    expect(deliveries.filter((d) => d.underLock)).toEqual([]);
  });
});
