/**
 * The SDK's call API against the real server: invite, ring, accept, signals relayed between the two devices,
 * hang up, and the call record arriving as a message. Media is not the SDK's business.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Message } from '@kkchat/protocol';
import { ApiError, KKChatClient, type ClientEvents } from '@kkchat/client';
import { befriend } from '../../server/test/support/raw-client.js';
import { eventually, startServer } from '../../server/test/support/helpers.js';
import type { TestServer } from '../../server/test/support/test-server.js';

let server: TestServer | null = null;
const clients: KKChatClient[] = [];
let counter = 0;

afterEach(async () => {
  for (const client of clients.splice(0)) client.disconnect();
  await server?.close();
  server = null;
});

function record<E extends keyof ClientEvents>(client: KKChatClient, event: E): Array<ClientEvents[E]> {
  const seen: Array<ClientEvents[E]> = [];
  client.on(event, (payload) => seen.push(payload));
  return seen;
}

async function signedIn(url: string, prefix: string) {
  const client = new KKChatClient({ baseUrl: url, WebSocket, reconnect: { minDelayMs: 20, maxDelayMs: 200 } });
  clients.push(client);
  const username = `${prefix}${Date.now().toString(36)}${counter++}`;
  const auth = await client.auth.register({ username, password: `pw-${username}-secret` });
  return { client, auth };
}

describe('SDK calls', () => {
  it('rings, answers, relays signals both ways, hangs up and delivers the record', async () => {
    server = await startServer();
    const a = await signedIn(server.url, 'sca');
    const b = await signedIn(server.url, 'scb');
    const conversationId = await befriend(server.url, a.auth, b.auth);
    await Promise.all([a.client.connect(), b.client.connect()]);
    const incoming = record(b.client, 'call.incoming');
    const ringing = record(a.client, 'call.ringing');
    const accepted = record(a.client, 'call.accepted');
    const aSignals = record(a.client, 'call.signal');
    const bSignals = record(b.client, 'call.signal');
    const aEnded = record(a.client, 'call.ended');
    const bEnded = record(b.client, 'call.ended');
    const bMessages = record(b.client, 'message');

    const call = await a.client.calls.invite({ conversationId }, 'video');
    expect(call).toMatchObject({ media: 'video', callerId: a.auth.user.id, calleeId: b.auth.user.id });
    await eventually(() => incoming.length === 1 && ringing.length === 1);
    await expect(a.client.calls.accept(call.callId)).rejects.toMatchObject({ code: 'CALL_NOT_ALLOWED' });

    expect((await b.client.calls.accept(call.callId)).state).toBe('active');
    await eventually(() => accepted.length === 1);
    expect(a.client.calls.signal(call.callId, { kind: 'offer', sdp: 'v=0 offer' })).toBe(true);
    await eventually(() => bSignals.length === 1);
    b.client.calls.signal(call.callId, { kind: 'answer', sdp: 'v=0 answer' });
    await eventually(() => aSignals.length === 1);
    expect(bSignals[0]).toEqual({ callId: call.callId, signal: { kind: 'offer', sdp: 'v=0 offer' } });
    expect(aSignals[0]).toEqual({ callId: call.callId, signal: { kind: 'answer', sdp: 'v=0 answer' } });

    expect((await b.client.calls.hangup(call.callId)).outcome).toBe('completed');
    await eventually(() => aEnded.length === 1 && bEnded.length === 1);
    expect(aEnded[0]!.reason).toBe('hangup');
    await eventually(() => bMessages.some((m) => m.kind === 'call'));
    const callRecord = bMessages.find((m): m is Extract<Message, { kind: 'call' }> => m.kind === 'call')!;
    expect(callRecord).toMatchObject({ callId: call.callId, outcome: 'completed', media: 'video' });

    const error = await a.client.calls.hangup(call.callId).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).code).toBe('CALL_ENDED');
    expect(await a.client.calls.iceServers()).toEqual({ iceServers: [], ttlSec: 0 });
  });
});
