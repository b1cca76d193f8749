import { createHmac } from 'node:crypto';
import type { Message } from '@kkchat/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  eventually,
  framesOf,
  friends,
  history,
  nextRid,
  pingPong,
  RawSocket,
  registerUser,
  replyTo,
  sleep,
  startServer,
  type User,
} from '../support/helpers.js';
import type { TestServer } from '../support/test-server.js';
import { callRequest, inviteCall, type CallReply } from '../support/calls.js';

const RING_MS = 1500;
const GRACE_MS = 600;
let server: TestServer;

beforeAll(async () => {
  server = await startServer({
    KKCHAT_CALL_RING_TIMEOUT_MS: String(RING_MS),
    KKCHAT_CALL_DISCONNECT_GRACE_MS: String(GRACE_MS),
    KKCHAT_STUN_URLS: 'stun:127.0.0.1:3478',
    KKCHAT_TURN_URLS: 'turn:127.0.0.1:3478?transport=udp,turns:127.0.0.1:5349',
    KKCHAT_TURN_SECRET: 'turn-shared-secret',
    KKCHAT_TURN_TTL_SEC: '600',
  });
});
afterAll(async () => {
  await server.close();
});

const sockets: RawSocket[] = [];
async function connect(user: User): Promise<RawSocket> {
  const socket = await RawSocket.connect(server.wsUrl, user.accessToken);
  sockets.push(socket);
  return socket;
}

type Reply = CallReply;
const request = callRequest;
const invite = inviteCall;
function errorCode(reply: Reply): string | undefined {
  return reply.type === 'error' ? reply.code : undefined;
}
async function callRecords(user: User, conversationId: string): Promise<Extract<Message, { kind: 'call' }>[]> {
  const page = await history(server, user, conversationId);
  return page.body.messages.filter((m): m is Extract<Message, { kind: 'call' }> => m.kind === 'call');
}

describe('call signaling over WebSocket', () => {
  it('rings every device of the callee; accepting on one tells the others; signals go only between the two devices; hangup records the duration', async () => {
    const { a, b, conversationId } = await friends(server, 'ca');
    const [a1, a2, b1, b2] = await Promise.all([connect(a), connect(a), connect(b), connect(b)]);
    const call = await invite(a1, conversationId, 'video');
    expect(call).toMatchObject({ callerId: a.user.id, calleeId: b.user.id, media: 'video', state: 'ringing' });
    await Promise.all([b1.next('call.incoming'), b2.next('call.incoming')]);
    await a1.next('call.ringing', (f) => f.call.callId === call.callId);

    const accepted = await request(b2, { type: 'call.accept', callId: call.callId });
    expect(accepted).toMatchObject({ type: 'call.ok', call: { state: 'active' } });
    await a1.next('call.accepted');
    await b1.next('call.answered_elsewhere', (f) => f.call.callId === call.callId);
    expect(framesOf(b2, 'call.answered_elsewhere')).toEqual([]);
    // Answering twice, or on the other device, changes nothing.
    expect(errorCode(await request(b1, { type: 'call.accept', callId: call.callId }))).toBe('CALL_ALREADY_ANSWERED');
    expect(errorCode(await request(b2, { type: 'call.accept', callId: call.callId }))).toBe('CALL_ALREADY_ANSWERED');

    a1.send({ type: 'call.signal', callId: call.callId, signal: { kind: 'offer', sdp: 'v=0 offer' } });
    const offer = await b2.next('call.signal');
    expect(offer.signal).toEqual({ kind: 'offer', sdp: 'v=0 offer' });
    b2.send({ type: 'call.signal', callId: call.callId, signal: { kind: 'answer', sdp: 'v=0 answer' } });
    b2.send({ type: 'call.signal', callId: call.callId, signal: { kind: 'candidate', candidate: 'candidate:1 1 udp 1 127.0.0.1 5000 typ host', sdpMid: '0', sdpMLineIndex: 0 } });
    await a1.next('call.signal', (f) => f.signal.kind === 'candidate');
    // The other devices of both users never see signals, and may not send them.
    expect(errorCode(await request(a2, { type: 'call.signal', callId: call.callId, signal: { kind: 'offer', sdp: 'x' } }))).toBe('CALL_OTHER_DEVICE');
    expect(errorCode(await request(b1, { type: 'call.signal', callId: call.callId, signal: { kind: 'end-of-candidates' } }))).toBe('CALL_OTHER_DEVICE');
    await Promise.all([pingPong(a2), pingPong(b1)]);
    expect(framesOf(a2, 'call.signal')).toEqual([]);
    expect(framesOf(b1, 'call.signal')).toEqual([]);
    // Oversized SDP is refused by the frame schema.
    expect(errorCode(await request(a1, { type: 'call.signal', callId: call.callId, signal: { kind: 'offer', sdp: 'x'.repeat(20_000) } }))).toBe('INVALID_FRAME');

    await sleep(50);
    const ended = await request(a1, { type: 'call.hangup', callId: call.callId });
    expect(ended).toMatchObject({ type: 'call.ok', call: { state: 'ended', outcome: 'completed' } });
    for (const s of [a1, a2, b1, b2]) await s.next('call.ended', (f) => f.call.callId === call.callId && f.reason === 'hangup');
    const [record] = await callRecords(b, conversationId);
    expect(record).toMatchObject({ kind: 'call', callId: call.callId, senderId: a.user.id, media: 'video', outcome: 'completed' });
    expect(record!.durationMs).toBeGreaterThanOrEqual(50);
    await b1.next('message', (f) => f.message.kind === 'call');
    expect(errorCode(await request(b2, { type: 'call.hangup', callId: call.callId }))).toBe('CALL_ENDED');
  });

  it('an oversized ICE candidate is refused with INVALID_FRAME and changes nothing: not relayed, the call goes on', async () => {
    const { a, b, conversationId } = await friends(server, 'cice');
    const [a1, b1] = await Promise.all([connect(a), connect(b)]);
    const live = await invite(a1, conversationId);
    await request(b1, { type: 'call.accept', callId: live.callId });
    await a1.next('call.accepted', (f) => f.call.callId === live.callId);
    const candidate = (text: string) => ({ kind: 'candidate', candidate: text, sdpMid: '0', sdpMLineIndex: 0 });
    const huge = `candidate:1 1 udp 1 127.0.0.1 5000 typ host ${'x'.repeat(1_100)}`;
    expect(errorCode(await request(a1, { type: 'call.signal', callId: live.callId, signal: candidate(huge) }))).toBe('INVALID_FRAME');
    // Nothing reached the callee, the call is as it was, and the next candidate is the first one relayed.
    await pingPong(b1);
    expect(framesOf(b1, 'call.signal')).toEqual([]);
    expect(server.kkchat.services.calls.get(live.callId)).toMatchObject({ state: 'active', endedAt: null });
    a1.send({ type: 'call.signal', callId: live.callId, signal: candidate('candidate:2 1 udp 1 127.0.0.1 5002 typ host') });
    expect((await b1.next('call.signal')).signal).toEqual(candidate('candidate:2 1 udp 1 127.0.0.1 5002 typ host'));
    expect(framesOf(b1, 'call.signal')).toHaveLength(1);
    await request(a1, { type: 'call.hangup', callId: live.callId });
  });

  it('reject ends the call for both and records it', async () => {
    const { a, b, conversationId } = await friends(server, 'cr');
    const [a1, b1] = await Promise.all([connect(a), connect(b)]);
    const call = await invite(a1, conversationId, 'audio');
    await b1.next('call.incoming');
    expect(errorCode(await request(a1, { type: 'call.reject', callId: call.callId }))).toBe('CALL_NOT_ALLOWED');
    expect(await request(b1, { type: 'call.reject', callId: call.callId })).toMatchObject({ call: { outcome: 'rejected' } });
    await a1.next('call.ended', (f) => f.reason === 'rejected');
    expect(await callRecords(a, conversationId)).toMatchObject([{ outcome: 'rejected', media: 'audio', durationMs: 0 }]);
  });

  it('cancel while ringing; accepting the cancelled call is refused', async () => {
    const { a, b, conversationId } = await friends(server, 'cc');
    const [a1, b1] = await Promise.all([connect(a), connect(b)]);
    const call = await invite(a1, conversationId);
    await b1.next('call.incoming');
    expect(errorCode(await request(b1, { type: 'call.cancel', callId: call.callId }))).toBe('CALL_NOT_ALLOWED');
    expect(await request(a1, { type: 'call.cancel', callId: call.callId })).toMatchObject({ call: { outcome: 'cancelled' } });
    await b1.next('call.ended', (f) => f.reason === 'cancelled');
    expect(errorCode(await request(b1, { type: 'call.accept', callId: call.callId }))).toBe('CALL_ENDED');
    expect(await callRecords(b, conversationId)).toMatchObject([{ outcome: 'cancelled' }]);
  });

  it('no answer within the ring timeout: missed for both, recorded', async () => {
    const { a, b, conversationId } = await friends(server, 'ct');
    const [a1, b1] = await Promise.all([connect(a), connect(b)]);
    const call = await invite(a1, conversationId);
    const ended = await b1.next('call.ended', () => true, RING_MS + 3000);
    expect(ended).toMatchObject({ reason: 'timeout', call: { callId: call.callId, outcome: 'missed' } });
    await a1.next('call.ended');
    expect(await callRecords(a, conversationId)).toMatchObject([{ outcome: 'missed' }]);
  });

  it('callee offline: unreachable, not ringing; a device connecting in time rings; else missed (BR-38)', async () => {
    const { a, b, conversationId } = await friends(server, 'co');
    const a1 = await connect(a);
    const call = await invite(a1, conversationId);
    expect(call.state).toBe('calling');
    await a1.next('call.unreachable');
    const b1 = await connect(b);
    expect((await b1.next('call.incoming')).call.callId).toBe(call.callId);
    // After auth.ok: a client ignores anything before it.
    expect(b1.frames.findIndex((f) => f.type === 'call.incoming')).toBeGreaterThan(b1.frames.findIndex((f) => f.type === 'auth.ok'));
    await a1.next('call.ringing');
    b1.close();
    // The callee's socket dropping does not leave anyone ringing forever: the timeout still ends it.
    await a1.next('call.ended', (f) => f.reason === 'timeout', RING_MS + 3000);
    const b2 = await connect(b);
    await pingPong(b2);
    expect(framesOf(b2, 'call.incoming')).toEqual([]);
    expect(await callRecords(b, conversationId)).toMatchObject([{ outcome: 'missed' }]);
  });

  it('busy: a call to someone in a call ends at once as busy and leaves them a record; the running call is untouched (BR-36)', async () => {
    const { a, b, conversationId } = await friends(server, 'cb');
    const c = await registerUser(server.url, 'cbc');
    const { befriend } = await import('../support/raw-client.js');
    const cbConversation = await befriend(server.url, c, b);
    const [a1, b1, b2, c1] = await Promise.all([connect(a), connect(b), connect(b), connect(c)]);
    const call = await invite(a1, conversationId);
    await request(b1, { type: 'call.accept', callId: call.callId });

    const started = Date.now();
    const busy = await invite(c1, cbConversation);
    expect(busy).toMatchObject({ state: 'ended', outcome: 'busy' });
    await c1.next('call.ended', (f) => f.reason === 'busy');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await callRecords(b, cbConversation)).toMatchObject([{ outcome: 'busy', senderId: c.user.id }]);
    // A second invite from the peer already in the call is refused.
    expect(errorCode(await request(a1, { type: 'call.invite', conversationId, media: 'audio' }))).toBe('ALREADY_IN_CALL');
    await pingPong(b2);
    expect(framesOf(b2, 'call.incoming').map((f) => f.call.callId)).toEqual([call.callId]);
    expect(server.kkchat.services.calls.get(call.callId)?.state).toBe('active');
    await request(a1, { type: 'call.hangup', callId: call.callId });
  });

  it('both call each other at once: the later invite is refused with CALL_CROSSED', async () => {
    const { a, b, conversationId } = await friends(server, 'cx');
    const [a1, b1] = await Promise.all([connect(a), connect(b)]);
    const rA = nextRid('x');
    const rB = nextRid('x');
    a1.send({ type: 'call.invite', rid: rA, conversationId, media: 'audio' });
    b1.send({ type: 'call.invite', rid: rB, calleeId: a.user.id, media: 'audio' });
    const replies = [(await replyTo(a1, rA)) as unknown as Reply, (await replyTo(b1, rB)) as unknown as Reply];
    expect(replies.filter((r) => r.type === 'call.ok')).toHaveLength(1);
    expect(replies.map(errorCode).filter(Boolean)).toEqual(['CALL_CROSSED']);
    const won = replies.find((r) => r.type === 'call.ok')!;
    if (won.type !== 'call.ok') throw new Error('unreachable');
    const calleeSocket = won.call.calleeId === b.user.id ? b1 : a1;
    expect(await request(calleeSocket, { type: 'call.accept', callId: won.call.callId })).toMatchObject({ type: 'call.ok' });
    await request(calleeSocket, { type: 'call.hangup', callId: won.call.callId });
  });

  it('accept and cancel crossing: exactly one wins, the other gets a clear code, one record', async () => {
    const { a, b, conversationId } = await friends(server, 'cz');
    const [a1, b1] = await Promise.all([connect(a), connect(b)]);
    const call = await invite(a1, conversationId);
    await b1.next('call.incoming');
    const [rAccept, rCancel] = [nextRid('z'), nextRid('z')];
    b1.send({ type: 'call.accept', rid: rAccept, callId: call.callId });
    a1.send({ type: 'call.cancel', rid: rCancel, callId: call.callId });
    const accept = (await replyTo(b1, rAccept)) as unknown as Reply;
    const cancel = (await replyTo(a1, rCancel)) as unknown as Reply;
    const outcomes = [accept.type, cancel.type].sort();
    expect(outcomes).toEqual(['call.ok', 'error']);
    if (accept.type === 'call.ok') {
      expect(errorCode(cancel)).toBe('CALL_NOT_RINGING');
      await request(a1, { type: 'call.hangup', callId: call.callId });
    } else {
      expect(errorCode(accept)).toBe('CALL_ENDED');
    }
    await eventually(async () => (await callRecords(a, conversationId)).length === 1);
  });

  it('a third party, a non-friend and a blocked user cannot call or touch a call', async () => {
    const { a, b, conversationId } = await friends(server, 'cp');
    const stranger = await registerUser(server.url, 'cps');
    const [a1, b1, s1] = await Promise.all([connect(a), connect(b), connect(stranger)]);
    const call = await invite(a1, conversationId);
    for (const type of ['call.accept', 'call.reject', 'call.cancel', 'call.hangup']) {
      expect(errorCode(await request(s1, { type, callId: call.callId }))).toBe('CALL_NOT_FOUND');
    }
    expect(errorCode(await request(s1, { type: 'call.signal', callId: call.callId, signal: { kind: 'end-of-candidates' } }))).toBe('CALL_NOT_FOUND');
    expect(errorCode(await request(s1, { type: 'call.invite', calleeId: a.user.id, media: 'audio' }))).toBe('NOT_FRIENDS');
    expect(errorCode(await request(s1, { type: 'call.invite', conversationId, media: 'audio' }))).toBe('CONVERSATION_NOT_FOUND');
    expect(errorCode(await request(s1, { type: 'call.invite', media: 'audio' }))).toBe('INVALID_FRAME');
    expect(server.kkchat.services.calls.get(call.callId)?.state).toBe('ringing');
    await request(a1, { type: 'call.cancel', callId: call.callId });
    await b1.next('call.ended');

    expect((await api(server.url, 'PUT', `/blocks/${a.user.id}`, { token: b.accessToken })).status).toBeLessThan(300);
    expect(errorCode(await request(a1, { type: 'call.invite', conversationId, media: 'audio' }))).toBe('BLOCKED_BY_USER');
    expect(errorCode(await request(b1, { type: 'call.invite', calleeId: a.user.id, media: 'audio' }))).toBe('YOU_BLOCKED_USER');
  });

  it('a dropped device in the call: back within the grace the call continues; gone longer it ends and is recorded', async () => {
    const { a, b, conversationId } = await friends(server, 'cg');
    const [a1, b1] = await Promise.all([connect(a), connect(b)]);
    const call = await invite(a1, conversationId);
    await request(b1, { type: 'call.accept', callId: call.callId });
    // The caller's socket drops and a new one of the same session comes back quickly.
    a1.close();
    await a1.waitClosed();
    const a2 = await connect(a);
    await sleep(GRACE_MS + 300);
    expect(server.kkchat.services.calls.get(call.callId)?.state).toBe('active');
    a2.send({ type: 'call.signal', callId: call.callId, signal: { kind: 'offer', sdp: 'v=0 again' } });
    expect((await b1.next('call.signal')).signal).toEqual({ kind: 'offer', sdp: 'v=0 again' });
    // Now the callee goes away for good.
    b1.close();
    const ended = await a2.next('call.ended', () => true, GRACE_MS + 3000);
    expect(ended).toMatchObject({ reason: 'disconnected', call: { outcome: 'completed' } });
    await eventually(async () => (await callRecords(a, conversationId)).length === 1);
  });

  it('ICE servers: STUN and TURN from configuration with coturn REST credentials', async () => {
    const { a } = await friends(server, 'ci');
    const response = await api<{ iceServers: { urls: string[]; username?: string; credential?: string }[]; ttlSec: number }>(
      server.url,
      'GET',
      '/calls/ice-servers',
      { token: a.accessToken },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const [stun, turn] = response.body.iceServers;
    expect(stun).toEqual({ urls: ['stun:127.0.0.1:3478'] });
    expect(turn!.urls).toEqual(['turn:127.0.0.1:3478?transport=udp', 'turns:127.0.0.1:5349']);
    const [expiry, userId] = turn!.username!.split(':');
    expect(userId).toBe(a.user.id);
    expect(Number(expiry) - Date.now() / 1000).toBeGreaterThan(590);
    expect(Number(expiry) - Date.now() / 1000).toBeLessThanOrEqual(600);
    expect(turn!.credential).toBe(createHmac('sha1', 'turn-shared-secret').update(turn!.username!).digest('base64'));
    expect(response.body.ttlSec).toBe(600);
    expect((await api(server.url, 'GET', '/calls/ice-servers')).status).toBe(401);
  });
});
