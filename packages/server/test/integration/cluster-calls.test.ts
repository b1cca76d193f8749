import type { Message } from '@kkchat/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKafkaCluster, until, type TestCluster } from '../support/kafka-cluster.js';
import { befriend, history, nextRid, RawSocket, registerUser, replyTo, type User } from '../support/helpers.js';
import type { TestServer } from '../support/test-server.js';
import { callRequest, inviteCall, type CallReply } from '../support/calls.js';

/**
 * Calls across nodes (issues 5 and 6): the call's state lives on the node that took the invite; frames from a
 * device on another node go to it through Kafka, and it answers that device there. Who is in a call is shared,
 * so busy works across nodes too.
 */
const GRACE_MS = 1500;
let cluster: TestCluster;
let n1: TestServer;
let n2: TestServer;
const sockets: RawSocket[] = [];

beforeAll(async () => {
  cluster = await startKafkaCluster();
  const env = { KKCHAT_CALL_DISCONNECT_GRACE_MS: String(GRACE_MS), KKCHAT_CALL_RING_TIMEOUT_MS: '20000' };
  [n1, n2] = await Promise.all([cluster.node('c1', env), cluster.node('c2', env)]);
}, 180_000);

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await cluster?.close();
}, 60_000);

async function connect(node: TestServer, user: User): Promise<RawSocket> {
  const socket = await RawSocket.connect(node.wsUrl, user.accessToken);
  sockets.push(socket);
  return socket;
}

type Reply = CallReply;
const request = callRequest;
const invite = inviteCall;

async function pair(prefix: string): Promise<{ a: User; b: User; conversationId: string }> {
  const a = (await registerUser(n1.url, `${prefix}a`)) as User;
  const b = (await registerUser(n2.url, `${prefix}b`)) as User;
  return { a, b, conversationId: await befriend(n1.url, a, b) };
}

describe('calls across nodes', () => {
  it('a caller on one node and a callee on another: ring, accept, signals both ways in order, hang up, one record', async () => {
    const { a, b, conversationId } = await pair('xa');
    const [a1, b2] = await Promise.all([connect(n1, a), connect(n2, b)]);
    const call = await invite(a1, conversationId); // held by node 1
    await b2.next('call.incoming', (f) => f.call.callId === call.callId);
    // Node 1 knows Bob is online on node 2 (presence in Redis), so Alice hears it ring.
    expect(call.state).toBe('ringing');

    // Bob's accept reaches node 1 from node 2; node 1 answers Bob's socket on node 2.
    const accepted = await request(b2, { type: 'call.accept', callId: call.callId });
    expect(accepted).toMatchObject({ type: 'call.ok', call: { callId: call.callId, state: 'active' } });
    await a1.next('call.accepted', (f) => f.call.callId === call.callId);

    a1.send({ type: 'call.signal', callId: call.callId, signal: { kind: 'offer', sdp: 'v=0 offer' } });
    expect((await b2.next('call.signal')).signal).toEqual({ kind: 'offer', sdp: 'v=0 offer' });
    b2.send({ type: 'call.signal', callId: call.callId, signal: { kind: 'answer', sdp: 'v=0 answer' } });
    for (let i = 0; i < 5; i++) {
      b2.send({ type: 'call.signal', callId: call.callId, signal: { kind: 'candidate', candidate: `candidate:${i} 1 udp 1 127.0.0.1 ${9000 + i} typ host`, sdpMid: '0', sdpMLineIndex: 0 } });
    }
    await until(() => a1.frames.filter((f) => f.type === 'call.signal').length === 6, 'Alice to get the answer and five candidates');
    const signals = a1.frames.flatMap((f) => (f.type === 'call.signal' ? [f.signal] : []));
    expect(signals[0]).toEqual({ kind: 'answer', sdp: 'v=0 answer' });
    expect(signals.slice(1).map((s) => (s.kind === 'candidate' ? s.candidate : ''))).toEqual(Array.from({ length: 5 }, (_, i) => `candidate:${i} 1 udp 1 127.0.0.1 ${9000 + i} typ host`));

    const hungUp = await request(b2, { type: 'call.hangup', callId: call.callId });
    expect(hungUp).toMatchObject({ type: 'call.ok', call: { state: 'ended' } });
    await a1.next('call.ended', (f) => f.call.callId === call.callId);
    await until(async () => {
      const page = await history(n2, b, conversationId);
      return page.body.messages.filter((m: Message) => m.kind === 'call').length === 1;
    }, 'the call record');
    // A late frame through node 2 gets the owner's answer: the call is over.
    const late = await request(b2, { type: 'call.hangup', callId: call.callId });
    expect(late).toMatchObject({ type: 'error', code: 'CALL_ENDED' });
  });

  it('busy across nodes: someone in a call held by node 1 is busy for an invite on node 2 (BR-36)', async () => {
    const { a, b, conversationId } = await pair('xb');
    const c = (await registerUser(n2.url, 'xbc')) as User;
    const cb = await befriend(n2.url, c, b);
    const [a1, b2, c2] = await Promise.all([connect(n1, a), connect(n2, b), connect(n2, c)]);
    const call = await invite(a1, conversationId);
    await request(b2, { type: 'call.accept', callId: call.callId });
    const second = await invite(c2, cb); // node 2 does not hold Bob's call, yet knows he is in one
    expect(second).toMatchObject({ state: 'ended', outcome: 'busy' });
    await c2.next('call.ended', (f) => f.reason === 'busy');
    // Bob himself cannot start another one either, from any node.
    const again = await request(b2, { type: 'call.invite', conversationId: cb, media: 'audio' });
    expect(again).toMatchObject({ type: 'error', code: 'ALREADY_IN_CALL' });
    await request(a1, { type: 'call.hangup', callId: call.callId });
    await b2.next('call.ended', (f) => f.call.callId === call.callId);
  });

  it('both call each other at once: on one node the later gets CALL_CROSSED; across nodes ALREADY_IN_CALL; one call rings', async () => {
    // Both on node 1: the node holds whichever call won, and tells a crossing from a second call.
    // Across nodes: `live_calls` says only that the caller is in a call held elsewhere (see docs/architecture.md).
    for (const [where, nodeOfB, code] of [['one node', () => n1, 'CALL_CROSSED'], ['two nodes', () => n2, 'ALREADY_IN_CALL']] as const) {
      for (let round = 0; round < 3; round++) {
        const { a, b, conversationId } = await pair(`xx${round}${where === 'one node' ? 'o' : 't'}`);
        const [a1, b1] = await Promise.all([connect(n1, a), connect(nodeOfB(), b)]);
        const [rA, rB] = [nextRid('x'), nextRid('x')];
        a1.send({ type: 'call.invite', rid: rA, conversationId, media: 'audio' });
        b1.send({ type: 'call.invite', rid: rB, calleeId: a.user.id, media: 'audio' });
        const replies = (await Promise.all([replyTo(a1, rA), replyTo(b1, rB)])) as unknown as Reply[];
        const label = `${where}, round ${round}: ${JSON.stringify(replies)}`;
        const won = replies.filter((r) => r.type === 'call.ok');
        expect(won, label).toHaveLength(1);
        expect(replies.flatMap((r) => (r.type === 'error' ? [r.code] : [])), label).toEqual([code]);
        const call = won[0]!.type === 'call.ok' ? won[0]!.call : null;
        // The winning call rings on, and its callee can answer it.
        const [callerSocket, calleeSocket] = call!.callerId === a.user.id ? [a1, b1] : [b1, a1];
        await calleeSocket.next('call.incoming', (f) => f.call.callId === call!.callId);
        expect(await request(calleeSocket, { type: 'call.accept', callId: call!.callId })).toMatchObject({ type: 'call.ok', call: { state: 'active' } });
        await request(callerSocket, { type: 'call.hangup', callId: call!.callId });
        await calleeSocket.next('call.ended', (f) => f.call.callId === call!.callId);
      }
    }
  });

  it('a device that drops takes its call back from another node within the grace', async () => {
    const { a, b, conversationId } = await pair('xc');
    const [a1, b2] = await Promise.all([connect(n1, a), connect(n2, b)]);
    const call = await invite(a1, conversationId);
    await request(b2, { type: 'call.accept', callId: call.callId });
    // Bob's node-2 socket drops; the same session comes back on node 1 (as after a reconnect through nginx).
    b2.close();
    await b2.waitClosed();
    const b1 = await connect(n1, b);
    await new Promise((resolve) => setTimeout(resolve, GRACE_MS + 500));
    expect(n1.kkchat.services.calls.get(call.callId)?.state).toBe('active');
    a1.send({ type: 'call.signal', callId: call.callId, signal: { kind: 'offer', sdp: 'v=0 renegotiate' } });
    expect((await b1.next('call.signal')).signal).toEqual({ kind: 'offer', sdp: 'v=0 renegotiate' });
    await request(a1, { type: 'call.hangup', callId: call.callId });
  });

  it('a device on another node that drops for good ends the call after the grace, on the owner\'s timer', async () => {
    const { a, b, conversationId } = await pair('xd');
    const [a1, b2] = await Promise.all([connect(n1, a), connect(n2, b)]);
    const call = await invite(a1, conversationId);
    await request(b2, { type: 'call.accept', callId: call.callId });
    b2.close();
    const ended = await a1.next('call.ended', (f) => f.call.callId === call.callId, GRACE_MS + 10_000);
    expect(ended).toMatchObject({ reason: 'disconnected', call: { outcome: 'completed' } });
  });
});
