import { afterEach, describe, expect, it } from 'vitest';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { buildGroup, groupApi, newUser } from '../support/groups.js';
import { history } from '../support/helpers.js';
import type { TestServer } from '../support/test-server.js';

/**
 * Many people joining one group through its invite link at once, spread over three nodes that share the
 * database: each node's cached group state goes stale under the others' joins, and every join must still end
 * as a join or GROUP_FULL, never as a server error, with no seq used twice or skipped.
 */
let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

async function joinStorm(nodes: TestServer[], joiners: number, memberLimit?: number) {
  const [first] = nodes as [TestServer];
  const g = await buildGroup(first, { members: 1, prefix: 'cj' });
  const owner = groupApi(first);
  expect((await owner.update(g.owner, g.conversationId, { joinMode: 'open', ...(memberLimit ? { memberLimit } : {}) })).status).toBe(200);
  const code = (await owner.link(g.owner, g.conversationId)).body.link.code;
  const people = await Promise.all(Array.from({ length: joiners }, (_, i) => newUser(nodes[i % nodes.length]!, 'cj')));
  const results = await Promise.all(people.map((u, i) => groupApi(nodes[i % nodes.length]!).join(u, code)));
  const codes = results.map((r) => (r.status === 200 ? 'joined' : (r.body as unknown as { error: { code: string } }).error.code));
  const timeline = (await history(first, g.owner, g.conversationId, 'after=0&limit=100')).body.messages;
  const members = (await owner.members(g.owner, g.conversationId)).body.members;
  return { codes, timeline, members };
}

describe('concurrent joins across nodes', () => {
  it('every join through the link succeeds on whichever node it lands', async () => {
    cluster = await startCluster(3);
    const { codes, timeline, members } = await joinStorm(cluster.nodes, 45);
    expect(codes.filter((c) => c !== 'joined')).toEqual([]);
    // The owner, an admin and a member to begin with.
    expect(members).toHaveLength(3 + 45);
    expect(timeline.map((m) => m.seq)).toEqual(timeline.map((_, i) => i + 1));
    expect(timeline.filter((m) => m.kind === 'system' && m.event.type === 'member_joined').length).toBeGreaterThanOrEqual(45);
  }, 120_000);

  it('never past the member limit: the rest get GROUP_FULL', async () => {
    cluster = await startCluster(3);
    const { codes, members } = await joinStorm(cluster.nodes, 30, 12);
    expect(codes.filter((c) => c === 'joined')).toHaveLength(12 - 3);
    expect(codes.filter((c) => c !== 'joined').every((c) => c === 'GROUP_FULL')).toBe(true);
    expect(members).toHaveLength(12);
  }, 120_000);
});
