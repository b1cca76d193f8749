import { describe, expect, it } from 'vitest';
import * as m from './calls.state.js';
import type { Call, Party, Transition } from './calls.state.js';

const A: Party = { userId: 'a', sessionId: 'sa', connectionId: 'ca1' };
const A2: Party = { userId: 'a', sessionId: 'sa2', connectionId: 'ca2' };
const B: Party = { userId: 'b', sessionId: 'sb', connectionId: 'cb1' };
const B2: Party = { userId: 'b', sessionId: 'sb2', connectionId: 'cb2' };
const C: Party = { userId: 'c', sessionId: 'sc', connectionId: 'cc1' };

function newCall(from = A, to = 'b', now = 1000): Call {
  return m.createCall({ callId: 'k1', conversationId: 'conv', caller: from, calleeId: to, media: 'video', now, ringTimeoutMs: 45_000 });
}
function ok(result: Transition): Call {
  if (!result.ok) throw new Error(`refused: ${result.code}`);
  return result.call;
}
function refused(result: Transition): string {
  if (result.ok) throw new Error('allowed');
  return result.code;
}
const ringing = () => m.delivered(newCall());
const active = () => ok(m.accept(ringing(), B, 2000));

describe('call state machine', () => {
  it('starts calling, rings once delivered, with the ring deadline', () => {
    const call = newCall();
    expect(call).toMatchObject({ state: 'calling', ringUntil: 46_000, callerDevice: { connectionId: 'ca1' }, calleeDevice: null });
    expect(m.delivered(call).state).toBe('ringing');
    expect(m.delivered(active())).toEqual(active());
  });

  it('accept on one device binds that device; a second accept is refused and changes nothing', () => {
    const call = active();
    expect(call).toMatchObject({ state: 'active', answeredAt: 2000, calleeDevice: { connectionId: 'cb1', sessionId: 'sb' } });
    expect(refused(m.accept(call, B2, 2100))).toBe('CALL_ALREADY_ANSWERED');
    expect(refused(m.accept(call, B, 2100))).toBe('CALL_ALREADY_ANSWERED');
  });

  it('accepting while still "calling" (a device that got the invite before ringing was confirmed) works', () => {
    expect(ok(m.accept(newCall(), B2, 1500)).calleeDevice?.connectionId).toBe('cb2');
  });

  it('the caller cannot accept or reject; the callee cannot cancel', () => {
    expect(refused(m.accept(ringing(), A, 1))).toBe('CALL_NOT_ALLOWED');
    expect(refused(m.reject(ringing(), A2, 1))).toBe('CALL_NOT_ALLOWED');
    expect(refused(m.cancel(ringing(), B, 1))).toBe('CALL_NOT_ALLOWED');
  });

  it('a third party gets CALL_NOT_FOUND for every action', () => {
    for (const call of [ringing(), active()]) {
      expect(refused(m.accept(call, C, 1))).toBe('CALL_NOT_FOUND');
      expect(refused(m.reject(call, C, 1))).toBe('CALL_NOT_FOUND');
      expect(refused(m.cancel(call, C, 1))).toBe('CALL_NOT_FOUND');
      expect(refused(m.hangup(call, C, 1))).toBe('CALL_NOT_FOUND');
      expect(m.signalTarget(call, C)).toEqual({ ok: false, code: 'CALL_NOT_FOUND' });
    }
  });

  it('reject ends a ringing call as rejected', () => {
    expect(ok(m.reject(ringing(), B2, 3000))).toMatchObject({ state: 'ended', outcome: 'rejected', reason: 'rejected', endedAt: 3000 });
    expect(refused(m.reject(active(), B, 3000))).toBe('CALL_NOT_RINGING');
  });

  it('cancel ends a ringing call as cancelled, from any of the caller devices', () => {
    expect(ok(m.cancel(ringing(), A2, 3000))).toMatchObject({ state: 'ended', outcome: 'cancelled', reason: 'cancelled' });
    expect(refused(m.cancel(active(), A, 3000))).toBe('CALL_NOT_RINGING');
  });

  it('accept and cancel crossing: whichever the server applies first wins, the other gets a clear code', () => {
    const cancelled = ok(m.cancel(ringing(), A, 1500));
    expect(refused(m.accept(cancelled, B, 1501))).toBe('CALL_ENDED');
    const answered = ok(m.accept(ringing(), B, 1500));
    expect(refused(m.cancel(answered, A, 1501))).toBe('CALL_NOT_RINGING');
    // Hanging up is how the caller leaves an answered call.
    expect(ok(m.hangup(answered, A, 1600))).toMatchObject({ outcome: 'completed', reason: 'hangup' });
  });

  it('every action on an ended call is refused with CALL_ENDED', () => {
    const ended = ok(m.reject(ringing(), B, 2000));
    expect(refused(m.accept(ended, B, 1))).toBe('CALL_ENDED');
    expect(refused(m.reject(ended, B, 1))).toBe('CALL_ENDED');
    expect(refused(m.cancel(ended, A, 1))).toBe('CALL_ENDED');
    expect(refused(m.hangup(ended, A, 1))).toBe('CALL_ENDED');
    expect(m.signalTarget(ended, A)).toEqual({ ok: false, code: 'CALL_ENDED' });
  });

  it('hang up while ringing: caller cancels, callee rejects, failed is recorded as failed', () => {
    expect(ok(m.hangup(ringing(), A, 2))).toMatchObject({ outcome: 'cancelled' });
    expect(ok(m.hangup(ringing(), B2, 2))).toMatchObject({ outcome: 'rejected' });
    expect(ok(m.hangup(ringing(), A, 2, 'failed'))).toMatchObject({ outcome: 'failed', reason: 'failed' });
  });

  it('hang up while active: either device in the call; the duration runs from answer to end', () => {
    const byCaller = ok(m.hangup(active(), A, 62_000));
    expect(byCaller).toMatchObject({ state: 'ended', outcome: 'completed', reason: 'hangup' });
    expect(m.durationMs(byCaller)).toBe(60_000);
    expect(ok(m.hangup(active(), B, 3000)).outcome).toBe('completed');
    expect(ok(m.hangup(active(), B, 3000, 'failed')).outcome).toBe('failed');
    expect(refused(m.hangup(active(), A2, 3000))).toBe('CALL_OTHER_DEVICE');
    expect(refused(m.hangup(active(), B2, 3000))).toBe('CALL_OTHER_DEVICE');
  });

  it('signals flow only between the inviting and the accepting device, and only once answered', () => {
    expect(m.signalTarget(ringing(), A)).toEqual({ ok: false, code: 'CALL_NOT_ACTIVE' });
    const call = active();
    expect(m.signalTarget(call, A)).toEqual({ ok: true, to: { connectionId: 'cb1', sessionId: 'sb' } });
    expect(m.signalTarget(call, B)).toEqual({ ok: true, to: { connectionId: 'ca1', sessionId: 'sa' } });
    expect(m.signalTarget(call, A2)).toEqual({ ok: false, code: 'CALL_OTHER_DEVICE' });
    expect(m.signalTarget(call, B2)).toEqual({ ok: false, code: 'CALL_OTHER_DEVICE' });
  });

  it('no answer before the timeout: missed; a timeout after answer or end changes nothing', () => {
    expect(m.timeout(ringing(), 46_000)).toMatchObject({ state: 'ended', outcome: 'missed', reason: 'timeout' });
    expect(m.timeout(newCall(), 46_000).outcome).toBe('missed');
    const call = active();
    expect(m.timeout(call, 46_000)).toBe(call);
    const ended = ok(m.cancel(ringing(), A, 2));
    expect(m.timeout(ended, 46_000)).toBe(ended);
    expect(m.durationMs(m.timeout(ringing(), 46_000))).toBe(0);
  });

  it('busy: a call to someone in a call ends at once as busy', () => {
    expect(m.busy(newCall(C, 'b'), 5)).toMatchObject({ state: 'ended', outcome: 'busy', reason: 'busy', endedAt: 5 });
  });

  it('a dropped device in the call starts the grace; coming back on the same session resumes', () => {
    const call = active();
    expect(m.connectionLost(call, 'cb2')).toBeNull();
    expect(m.connectionLost(call, 'zz')).toBeNull();
    const lost = m.connectionLost(call, 'cb1')!;
    expect(lost.side).toBe('callee');
    expect(lost.call.away).toEqual({ caller: false, callee: true });
    expect(m.reconnected(lost.call, { connectionId: 'other', sessionId: 'sb2' })).toBeNull();
    const back = m.reconnected(lost.call, { connectionId: 'cb9', sessionId: 'sb' })!;
    expect(back.side).toBe('callee');
    expect(back.call.calleeDevice).toEqual({ connectionId: 'cb9', sessionId: 'sb' });
    expect(m.graceExpired(back.call, 'callee', 9000)).toBe(back.call);
    expect(m.signalTarget(back.call, A)).toEqual({ ok: true, to: { connectionId: 'cb9', sessionId: 'sb' } });
  });

  it('grace expired: an answered call ends completed with its duration, a ringing one as cancelled', () => {
    const lost = m.connectionLost(active(), 'ca1')!;
    const ended = m.graceExpired(lost.call, 'caller', 12_000);
    expect(ended).toMatchObject({ state: 'ended', outcome: 'completed', reason: 'disconnected' });
    expect(m.durationMs(ended)).toBe(10_000);
    const ring = m.connectionLost(ringing(), 'ca1')!;
    expect(m.graceExpired(ring.call, 'caller', 3000)).toMatchObject({ outcome: 'cancelled', reason: 'disconnected' });
    // A ringing device of the callee dropping does not matter: the others still ring, the timeout still runs.
    expect(m.connectionLost(ringing(), 'cb1')).toBeNull();
    expect(m.connectionLost(m.busy(newCall(), 1), 'ca1')).toBeNull();
  });

  it('both call each other at once: two separate calls, the service refuses the second (see calls.service)', () => {
    const ab = m.delivered(newCall(A, 'b'));
    const ba = m.delivered(m.createCall({ callId: 'k2', conversationId: 'conv', caller: B, calleeId: 'a', media: 'audio', now: 1000, ringTimeoutMs: 45_000 }));
    // Each side may only accept the call where it is the callee.
    expect(refused(m.accept(ab, A, 1))).toBe('CALL_NOT_ALLOWED');
    expect(refused(m.accept(ba, B, 1))).toBe('CALL_NOT_ALLOWED');
    expect(ok(m.accept(ab, B, 1)).state).toBe('active');
  });

  it('toCallInfo hides devices', () => {
    const info = m.toCallInfo(active());
    expect(Object.keys(info).sort()).toEqual(
      ['answeredAt', 'callId', 'calleeId', 'callerId', 'conversationId', 'createdAt', 'endedAt', 'media', 'outcome', 'ringUntil', 'state'].sort(),
    );
  });
});
