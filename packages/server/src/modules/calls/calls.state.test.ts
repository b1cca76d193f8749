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

  it('both call each other at once: the second invite is refused with CALL_CROSSED while the first is unanswered', () => {
    const ab = newCall(A, 'b');
    const bToA = { callerId: 'b', calleeId: 'a' };
    // B's own live call is A calling B, still calling or ringing: the two crossed.
    expect(m.decideInvite(bToA, { callerCall: ab })).toEqual({ ok: false, code: 'CALL_CROSSED' });
    expect(m.decideInvite(bToA, { callerCall: m.delivered(ab) })).toEqual({ ok: false, code: 'CALL_CROSSED' });
    // Once answered they are simply in a call together.
    expect(m.decideInvite(bToA, { callerCall: ok(m.accept(m.delivered(ab), B, 2)) })).toEqual({ ok: false, code: 'ALREADY_IN_CALL' });
    // A inviting B again while A's own call to B rings is not a crossing.
    expect(m.decideInvite({ callerId: 'a', calleeId: 'b' }, { callerCall: ab })).toEqual({ ok: false, code: 'ALREADY_IN_CALL' });
    // B in a call with C is busy for anyone, A included.
    const cb = newCall(C, 'b');
    expect(m.decideInvite(bToA, { callerCall: cb })).toEqual({ ok: false, code: 'ALREADY_IN_CALL' });
    // Each side may only accept the call where it is the callee.
    expect(refused(m.accept(ab, A, 1))).toBe('CALL_NOT_ALLOWED');
  });

  it('invite decision: a caller in a call held elsewhere is refused; a busy callee ends the call as busy; else it rings', () => {
    const bToA = { callerId: 'b', calleeId: 'a' };
    expect(m.decideInvite(bToA, { callerBusyElsewhere: true })).toEqual({ ok: false, code: 'ALREADY_IN_CALL' });
    // A call held here says more than the shared registry: it wins.
    expect(m.decideInvite(bToA, { callerCall: newCall(A, 'b'), callerBusyElsewhere: true })).toEqual({ ok: false, code: 'CALL_CROSSED' });
    expect(m.decideInvite(bToA, { calleeBusy: true })).toEqual({ ok: true, busy: true });
    expect(m.decideInvite(bToA, {})).toEqual({ ok: true, busy: false });
    // An ended call does not count, whichever it was.
    const ended = ok(m.reject(m.delivered(newCall(A, 'b')), B, 3));
    expect(m.decideInvite(bToA, { callerCall: ended })).toEqual({ ok: true, busy: false });
    expect(m.decideInvite(bToA, { callerCall: ended, calleeBusy: true })).toEqual({ ok: true, busy: true });
  });

  it('caller side: the inviting device drops while ringing and comes back on its session; the call keeps ringing', () => {
    for (const call of [newCall(), ringing()]) {
      const lost = m.connectionLost(call, 'ca1')!;
      expect(lost.side).toBe('caller');
      expect(lost.call.away).toEqual({ caller: true, callee: false });
      // Another device or session of the caller does not take the call.
      expect(m.reconnected(lost.call, { connectionId: 'ca2', sessionId: 'sa2' })).toBeNull();
      const back = m.reconnected(lost.call, { connectionId: 'ca9', sessionId: 'sa' })!;
      expect(back.side).toBe('caller');
      expect(back.call).toMatchObject({ state: call.state, callerDevice: { connectionId: 'ca9', sessionId: 'sa' }, away: { caller: false, callee: false } });
      // The grace no longer ends it; the callee can still answer, and signals go to the new connection.
      expect(m.graceExpired(back.call, 'caller', 9000)).toBe(back.call);
      const answered = ok(m.accept(back.call, B, 9500));
      expect(m.signalTarget(answered, B)).toEqual({ ok: true, to: { connectionId: 'ca9', sessionId: 'sa' } });
      // The old connection is nobody now.
      expect(m.connectionLost(answered, 'ca1')).toBeNull();
    }
  });

  it('caller side: back on the same session during an answered call; a device that never dropped is not "back"', () => {
    const call = active();
    expect(m.reconnected(call, { connectionId: 'ca7', sessionId: 'sa' })).toBeNull();
    const back = m.reconnected(m.connectionLost(call, 'ca1')!.call, { connectionId: 'ca7', sessionId: 'sa' })!;
    expect(back).toMatchObject({ side: 'caller', call: { state: 'active', callerDevice: { connectionId: 'ca7' } } });
    expect(ok(m.hangup(back.call, { ...A, connectionId: 'ca7' }, 5000))).toMatchObject({ outcome: 'completed', reason: 'hangup' });
    expect(refused(m.hangup(back.call, A, 5000))).toBe('CALL_OTHER_DEVICE');
    // Nothing comes back to an ended call.
    const ended = m.graceExpired(m.connectionLost(call, 'ca1')!.call, 'caller', 5000);
    expect(m.reconnected(ended, { connectionId: 'ca7', sessionId: 'sa' })).toBeNull();
  });

  it('hang up while still calling (not yet delivered): caller cancels, callee rejects, strangers are refused', () => {
    const call = newCall();
    expect(call.state).toBe('calling');
    expect(ok(m.hangup(call, A, 1500))).toMatchObject({ state: 'ended', outcome: 'cancelled', reason: 'cancelled', endedAt: 1500 });
    // Any device of the caller may hang up an unanswered call, as with cancel.
    expect(ok(m.hangup(call, A2, 1500)).outcome).toBe('cancelled');
    expect(ok(m.hangup(call, B2, 1500))).toMatchObject({ outcome: 'rejected', reason: 'rejected' });
    expect(ok(m.hangup(call, A, 1500, 'failed'))).toMatchObject({ outcome: 'failed', reason: 'failed' });
    expect(ok(m.hangup(call, B, 1500, 'failed'))).toMatchObject({ outcome: 'failed', reason: 'failed' });
    expect(refused(m.hangup(call, C, 1500))).toBe('CALL_NOT_FOUND');
    expect(m.durationMs(ok(m.hangup(call, A, 1500)))).toBe(0);
    // Hung up, the late "delivered" and the timeout change nothing.
    const ended = ok(m.hangup(call, A, 1500));
    expect(m.delivered(ended)).toBe(ended);
    expect(m.timeout(ended, 46_000)).toBe(ended);
  });

  it('toCallInfo hides devices', () => {
    const info = m.toCallInfo(active());
    expect(Object.keys(info).sort()).toEqual(
      ['answeredAt', 'callId', 'calleeId', 'callerId', 'conversationId', 'createdAt', 'endedAt', 'media', 'outcome', 'ringUntil', 'state'].sort(),
    );
  });
});
