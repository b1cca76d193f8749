import type { CallEndReason, CallInfo, CallMedia, CallOutcome, ErrorCode } from '@kkchat/protocol';

/**
 * The state machine of one call, without I/O: each transition takes the call and who acts, and returns either
 * the changed call or an error code (the call is then unchanged). The service owns timers, delivery and storage.
 *
 *   calling ──delivered──▶ ringing ──accept──▶ active ──hangup / grace expired──▶ ended (completed | failed)
 *      │                      │
 *      └──────────┬───────────┘── reject ▶ ended (rejected) · cancel ▶ ended (cancelled)
 *                 │               timeout ▶ ended (missed) · caller gone past grace ▶ ended (cancelled)
 *   busy callee: created ended (busy)
 */

/** One device: the socket it speaks on and the session it belongs to (a reconnect keeps the session). */
export interface Device {
  connectionId: string;
  sessionId: string;
}

export interface Party extends Device {
  userId: string;
}

export interface Call {
  callId: string;
  conversationId: string;
  callerId: string;
  calleeId: string;
  media: CallMedia;
  state: 'calling' | 'ringing' | 'active' | 'ended';
  createdAt: number;
  ringUntil: number;
  answeredAt: number | null;
  endedAt: number | null;
  outcome: CallOutcome | null;
  reason: CallEndReason | null;
  /** The device that sent the invite: it alone negotiates media for the caller. */
  callerDevice: Device;
  /** The device that accepted; null until then. */
  calleeDevice: Device | null;
  /** Sides whose device in the call has lost its connection (the grace period runs). */
  away: { caller: boolean; callee: boolean };
}

export type Transition = { ok: true; call: Call } | { ok: false; code: ErrorCode };

export function createCall(input: {
  callId: string;
  conversationId: string;
  caller: Party;
  calleeId: string;
  media: CallMedia;
  now: number;
  ringTimeoutMs: number;
}): Call {
  return {
    callId: input.callId,
    conversationId: input.conversationId,
    callerId: input.caller.userId,
    calleeId: input.calleeId,
    media: input.media,
    state: 'calling',
    createdAt: input.now,
    ringUntil: input.now + input.ringTimeoutMs,
    answeredAt: null,
    endedAt: null,
    outcome: null,
    reason: null,
    callerDevice: { connectionId: input.caller.connectionId, sessionId: input.caller.sessionId },
    calleeDevice: null,
    away: { caller: false, callee: false },
  };
}

/** A call to someone already in a call: it ends at once as busy (BR-36). */
export function busy(call: Call, now: number): Call {
  return end(call, now, 'busy', 'busy');
}

/** What becomes of a new invite: refused (the caller is in a call), busy (the callee is), or it rings. */
export type InviteDecision = { ok: false; code: 'CALL_CROSSED' | 'ALREADY_IN_CALL' } | { ok: true; busy: boolean };

/**
 * Decides an invite from `callerId` to `calleeId` from what is known of the two users' live calls:
 * - `callerCall`: the caller's live call held here, if any. When it is the callee calling the caller, not yet
 *   answered, the two called each other at once: CALL_CROSSED (answer that call). Any other: ALREADY_IN_CALL.
 * - `callerBusyElsewhere`: the caller is in a call that another node holds (cluster mode, from `live_calls`); who
 *   called whom and whether it was answered is not known here, so ALREADY_IN_CALL.
 * - `calleeBusy`: the callee is in a live call; the invite goes ahead only to end at once as busy (BR-36).
 */
export function decideInvite(
  invite: { callerId: string; calleeId: string },
  known: { callerCall?: Call | undefined; callerBusyElsewhere?: boolean; calleeBusy?: boolean },
): InviteDecision {
  const own = known.callerCall && isLive(known.callerCall) ? known.callerCall : undefined;
  if (own) {
    const crossed = own.callerId === invite.calleeId && own.calleeId === invite.callerId && own.state !== 'active';
    return { ok: false, code: crossed ? 'CALL_CROSSED' : 'ALREADY_IN_CALL' };
  }
  if (known.callerBusyElsewhere) return { ok: false, code: 'ALREADY_IN_CALL' };
  return { ok: true, busy: known.calleeBusy === true };
}

/** At least one of the callee's devices has the invite. */
export function delivered(call: Call): Call {
  return call.state === 'calling' ? { ...call, state: 'ringing' } : call;
}

export function accept(call: Call, actor: Party, now: number): Transition {
  const refused = checkParty(call, actor) ?? (actor.userId === call.callerId ? 'CALL_NOT_ALLOWED' : null);
  if (refused) return { ok: false, code: refused };
  if (call.state === 'ended') return { ok: false, code: 'CALL_ENDED' };
  if (call.state === 'active') return { ok: false, code: 'CALL_ALREADY_ANSWERED' };
  return {
    ok: true,
    call: { ...call, state: 'active', answeredAt: now, calleeDevice: { connectionId: actor.connectionId, sessionId: actor.sessionId } },
  };
}

export function reject(call: Call, actor: Party, now: number): Transition {
  const refused = checkParty(call, actor) ?? (actor.userId === call.callerId ? 'CALL_NOT_ALLOWED' : null) ?? unanswered(call);
  if (refused) return { ok: false, code: refused };
  return { ok: true, call: end(call, now, 'rejected', 'rejected') };
}

export function cancel(call: Call, actor: Party, now: number): Transition {
  const refused = checkParty(call, actor) ?? (actor.userId === call.calleeId ? 'CALL_NOT_ALLOWED' : null) ?? unanswered(call);
  if (refused) return { ok: false, code: refused };
  return { ok: true, call: end(call, now, 'cancelled', 'cancelled') };
}

/**
 * Either side ends the call. Unanswered, it is the caller cancelling or the callee rejecting; answered, only
 * the device in the call may hang up. `failed` records that the media could not be set up.
 */
export function hangup(call: Call, actor: Party, now: number, reason: 'hangup' | 'failed' = 'hangup'): Transition {
  const refused = checkParty(call, actor);
  if (refused) return { ok: false, code: refused };
  if (call.state === 'ended') return { ok: false, code: 'CALL_ENDED' };
  const failed = reason === 'failed';
  if (call.state !== 'active') {
    if (actor.userId === call.callerId) return { ok: true, call: end(call, now, failed ? 'failed' : 'cancelled', failed ? 'failed' : 'cancelled') };
    return { ok: true, call: end(call, now, failed ? 'failed' : 'rejected', failed ? 'failed' : 'rejected') };
  }
  if (!isDeviceInCall(call, actor)) return { ok: false, code: 'CALL_OTHER_DEVICE' };
  return { ok: true, call: end(call, now, failed ? 'failed' : 'completed', failed ? 'failed' : 'hangup') };
}

/** Whether `actor` may signal now; on success `to` is the other device in the call. */
export function signalTarget(call: Call, actor: Party): { ok: true; to: Device } | { ok: false; code: ErrorCode } {
  const refused = checkParty(call, actor);
  if (refused) return { ok: false, code: refused };
  if (call.state === 'ended') return { ok: false, code: 'CALL_ENDED' };
  if (call.state !== 'active' || !call.calleeDevice) return { ok: false, code: 'CALL_NOT_ACTIVE' };
  if (!isDeviceInCall(call, actor)) return { ok: false, code: 'CALL_OTHER_DEVICE' };
  return { ok: true, to: actor.userId === call.callerId ? call.calleeDevice : call.callerDevice };
}

/** Nobody answered within the ring timeout: a missed call. No change once answered or ended. */
export function timeout(call: Call, now: number): Call {
  return call.state === 'calling' || call.state === 'ringing' ? end(call, now, 'missed', 'timeout') : call;
}

/**
 * A connection closed. Returns the side whose device in the call it was (its grace period starts), or null
 * when the call does not depend on that connection (e.g. one of several ringing devices of the callee).
 */
export function connectionLost(call: Call, connectionId: string): { call: Call; side: 'caller' | 'callee' } | null {
  if (call.state === 'ended') return null;
  if (call.callerDevice.connectionId === connectionId) return { call: { ...call, away: { ...call.away, caller: true } }, side: 'caller' };
  if (call.calleeDevice?.connectionId === connectionId) return { call: { ...call, away: { ...call.away, callee: true } }, side: 'callee' };
  return null;
}

/** The same session connected again within the grace period: the call continues on the new connection. */
export function reconnected(call: Call, device: Device): { call: Call; side: 'caller' | 'callee' } | null {
  if (call.state === 'ended') return null;
  if (call.away.caller && call.callerDevice.sessionId === device.sessionId) {
    return { call: { ...call, callerDevice: { ...device }, away: { ...call.away, caller: false } }, side: 'caller' };
  }
  if (call.away.callee && call.calleeDevice?.sessionId === device.sessionId) {
    return { call: { ...call, calleeDevice: { ...device }, away: { ...call.away, callee: false } }, side: 'callee' };
  }
  return null;
}

/** The grace period of `side` ran out; the call ends unless that device came back meanwhile. */
export function graceExpired(call: Call, side: 'caller' | 'callee', now: number): Call {
  if (call.state === 'ended' || !call.away[side]) return call;
  return end(call, now, call.state === 'active' ? 'completed' : 'cancelled', 'disconnected');
}

/** Time from answer to end (0 when never answered). */
export function durationMs(call: Call): number {
  return call.answeredAt !== null && call.endedAt !== null ? Math.max(0, call.endedAt - call.answeredAt) : 0;
}

export function isLive(call: Call): boolean {
  return call.state !== 'ended';
}

/** The call as clients see it (devices are server-side detail). */
export function toCallInfo(call: Call): CallInfo {
  return {
    callId: call.callId,
    conversationId: call.conversationId,
    callerId: call.callerId,
    calleeId: call.calleeId,
    media: call.media,
    state: call.state,
    createdAt: call.createdAt,
    ringUntil: call.ringUntil,
    answeredAt: call.answeredAt,
    endedAt: call.endedAt,
    outcome: call.outcome,
  };
}

/** A third party is told the call does not exist, exactly as for an unknown id. */
function checkParty(call: Call, actor: Party): ErrorCode | null {
  return actor.userId === call.callerId || actor.userId === call.calleeId ? null : 'CALL_NOT_FOUND';
}

function unanswered(call: Call): ErrorCode | null {
  if (call.state === 'ended') return 'CALL_ENDED';
  if (call.state === 'active') return 'CALL_NOT_RINGING';
  return null;
}

function isDeviceInCall(call: Call, actor: Party): boolean {
  const device = actor.userId === call.callerId ? call.callerDevice : call.calleeDevice;
  return device?.connectionId === actor.connectionId;
}

function end(call: Call, now: number, outcome: CallOutcome, reason: CallEndReason): Call {
  return { ...call, state: 'ended', endedAt: now, outcome, reason, away: { caller: false, callee: false } };
}
