import { randomUUID } from 'node:crypto';
import { CALL_LIMITS, type CallInfo, type CallMedia, type CallSignal, type ServerFrame } from '@kkchat/protocol';
import type { Actor, Platform } from '../../context.js';
import { AppError } from '../../errors.js';
import { checkCanInteract } from '../contacts/contacts.policy.js';
import type { ContactRepository } from '../contacts/contacts.repository.js';
import type { ConversationRepository } from '../conversations/conversations.repository.js';
import type { ConversationService } from '../conversations/conversations.service.js';
import type { BusEvent, CallCommand } from '../../platform/events/event-bus.js';
import { KeyedQueue } from '../../platform/keyed-queue.js';
import { CallRouter, REFRESH_EVERY_MS, runForwarded } from './calls.cluster.js';
import * as machine from './calls.state.js';
import type { Call, Party, Transition } from './calls.state.js';

/** An ended call stays known this long, so late frames about it get CALL_ENDED rather than CALL_NOT_FOUND. */
const ENDED_RETENTION_MS = 10 * 60_000;
const INVITES_PER_MINUTE = { limit: 20, windowMs: 60_000 };

/**
 * Call signaling: authorization, the per-call state machine (calls.state.ts), ring and grace timers, relaying
 * SDP/ICE between the two devices in a call, and the record each call leaves in its conversation. Every frame
 * goes out through the bus with an explicit audience: the two users, or the two devices in the call.
 */
export class CallService {
  private readonly calls = new Map<string, Call>();
  /** The live (not ended) call of each user: a user is in at most one. */
  private readonly liveByUser = new Map<string, string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Cluster mode: routes frames to the node holding a call, and shares who is in a call (calls.cluster.ts). */
  private readonly router: CallRouter | null;
  private readonly stopRouting: (() => void) | null = null;
  /**
   * A new connection of the session of a device in a call, seen while the device's old connection still counted
   * as up (`<call>:<session>`). The new one can be reported first: the old socket is found dead later by the
   * heartbeat, or, in cluster mode, the two events come from different nodes. When the old one's loss arrives,
   * the call moves to the new connection at once instead of waiting out the grace.
   */
  private readonly standby = new Map<string, { connectionId: string; sessionId: string; at: number }>();
  /** Frames forwarded for one call run in the order they arrived (an offer before its ICE candidates). */
  private readonly forwarded = new KeyedQueue();

  constructor(
    private readonly platform: Platform,
    private readonly conversationsRepo: ConversationRepository,
    private readonly contacts: ContactRepository,
    private readonly conversations: ConversationService,
  ) {
    this.router = platform.config.kafka ? new CallRouter(platform) : null;
    if (this.router) {
      const router = this.router;
      const unsubscribe = platform.bus.subscribe((event) => this.onBusEvent(event));
      const refresh = setInterval(() => void this.run(() => router.refresh([...new Set(this.liveByUser.values())])), REFRESH_EVERY_MS);
      refresh.unref();
      this.stopRouting = () => {
        unsubscribe();
        clearInterval(refresh);
      };
    }
  }

  async invite(actor: Actor, target: { conversationId?: string; calleeId?: string }, media: CallMedia): Promise<CallInfo> {
    const caller = party(actor);
    if ((target.conversationId === undefined) === (target.calleeId === undefined)) {
      throw new AppError('INVALID_FRAME', { fields: [{ field: 'conversationId', message: 'Give exactly one of conversationId and calleeId.' }] });
    }
    const { conversationId, calleeId } = await this.resolveTarget(actor.userId, target);
    checkCanInteract(await this.contacts.blockState(actor.userId, calleeId));
    const rate = await this.platform.limiter.consume(`call-invite:${actor.userId}`, INVITES_PER_MINUTE);
    if (!rate.allowed) throw new AppError('RATE_LIMITED', { retryAfterMs: rate.retryAfterMs });

    // Checked after the awaits above, then registered without yielding, so two invites cannot both pass.
    const invite = { callerId: actor.userId, calleeId };
    const early = machine.decideInvite(invite, { callerCall: this.liveCallOf(actor.userId) });
    if (!early.ok) throw new AppError(early.code);
    const callId = this.router ? this.router.newCallId() : randomUUID();
    // Cluster mode: both users are registered where every node sees them (the database decides between invites
    // that reach different nodes at once); someone in a call held by another node is busy.
    const claim = this.router ? await this.router.claim(callId, actor.userId, calleeId) : 'ok';
    // Decided again after the claim: while it awaited, a crossing invite on this node may have registered the
    // caller's call (then it is here to look at; held by another node, only `live_calls` says the caller is busy).
    // (Embedded, nothing here awaits: the check above and the registration below run in one turn.)
    const decision = machine.decideInvite(invite, {
      callerCall: this.liveCallOf(actor.userId),
      callerBusyElsewhere: claim === 'caller-busy',
      calleeBusy: claim === 'callee-busy' || this.liveCallOf(calleeId) !== undefined,
    });
    if (claim === 'ok' && this.router && (!decision.ok || decision.busy)) await this.router.release(callId);
    if (!decision.ok) throw new AppError(decision.code);
    const calleeBusy = decision.busy;
    const now = this.platform.now();
    const call = machine.createCall({
      callId,
      conversationId,
      caller,
      calleeId,
      media,
      now,
      ringTimeoutMs: this.platform.config.calls.ringTimeoutMs,
    });
    if (calleeBusy) {
      // BR-36: the callee's current call is not disturbed; the caller hears busy at once, the callee gets a record.
      const ended = machine.busy(call, now);
      this.calls.set(ended.callId, ended);
      this.forgetLater(ended.callId);
      // The record is stored before anyone is told the call ended, so a client reading history then finds it.
      await this.record(ended);
      await this.deliver([actor.userId], { type: 'call.ended', call: machine.toCallInfo(ended), reason: 'busy' });
      return machine.toCallInfo(ended);
    }
    this.calls.set(call.callId, call);
    this.liveByUser.set(actor.userId, call.callId);
    this.liveByUser.set(calleeId, call.callId);
    this.setTimer(call.callId, this.platform.config.calls.ringTimeoutMs, () => this.apply(call.callId, (c) => machine.timeout(c, this.platform.now())));

    await this.deliver([calleeId], { type: 'call.incoming', call: machine.toCallInfo(call) });
    // BR-38: "ringing" only when a device of the callee is there to ring; otherwise the caller is told the callee
    // is unreachable and the call waits (a device that connects before the timeout still rings).
    const online = await this.platform.presence.online([calleeId]);
    const current = this.calls.get(call.callId)!;
    if (online.has(calleeId) && current.state === 'calling') {
      const ringing = machine.delivered(current);
      this.calls.set(call.callId, ringing);
      await this.deliver([actor.userId], { type: 'call.ringing', call: machine.toCallInfo(ringing) });
    } else if (current.state === 'calling') {
      await this.deliver([actor.userId], { type: 'call.unreachable', call: machine.toCallInfo(current) });
    }
    return machine.toCallInfo(this.calls.get(call.callId)!);
  }

  async accept(actor: Actor, callId: string): Promise<CallInfo> {
    const call = await this.transition(callId, (c) => machine.accept(c, party(actor), this.platform.now()));
    this.clearTimer(callId);
    const info = machine.toCallInfo(call);
    await this.deliver([call.callerId], { type: 'call.accepted', call: info });
    await this.deliverTo([actor.connectionId!], { type: 'call.accepted', call: info });
    // Every other device of the callee stops ringing.
    await this.platform.bus.publish({
      kind: 'deliver',
      userIds: [call.calleeId],
      frame: { type: 'call.answered_elsewhere', call: info },
      exceptConnectionId: actor.connectionId!,
    });
    return info;
  }

  async reject(actor: Actor, callId: string): Promise<CallInfo> {
    return this.finish(await this.transition(callId, (c) => machine.reject(c, party(actor), this.platform.now())));
  }

  async cancel(actor: Actor, callId: string): Promise<CallInfo> {
    return this.finish(await this.transition(callId, (c) => machine.cancel(c, party(actor), this.platform.now())));
  }

  async hangup(actor: Actor, callId: string, reason: 'hangup' | 'failed' = 'hangup'): Promise<CallInfo> {
    return this.finish(await this.transition(callId, (c) => machine.hangup(c, party(actor), this.platform.now(), reason)));
  }

  /** Relays an SDP or ICE payload to the other device in the call, and nowhere else. */
  async signal(actor: Actor, callId: string, signal: CallSignal): Promise<void> {
    const call = this.calls.get(callId);
    if (!call) throw new AppError('CALL_NOT_FOUND');
    const target = machine.signalTarget(call, party(actor));
    if (!target.ok) throw new AppError(target.code);
    const limit = { limit: CALL_LIMITS.signalsPerWindow, windowMs: CALL_LIMITS.signalWindowMs };
    const decision = await this.platform.limiter.consume(`call-signal:${actor.connectionId}`, limit);
    if (!decision.allowed) throw new AppError('RATE_LIMITED', { retryAfterMs: decision.retryAfterMs });
    await this.deliverTo([target.to.connectionId], { type: 'call.signal', callId, signal });
  }

  /** A device came online: it rings for a call still waiting for it; a device in a call takes the call back. */
  connected(actor: Actor): void {
    const call = this.liveCallOf(actor.userId);
    if (!call && actor.connectionId) this.tellOwnerElsewhere(actor, 'connected');
    if (!call || !actor.connectionId) return;
    const back = machine.reconnected(call, { connectionId: actor.connectionId, sessionId: actor.sessionId });
    if (back) {
      this.calls.set(call.callId, back.call);
      this.clearTimer(`${call.callId}:${back.side}`);
      return;
    }
    if (call.callerDevice.sessionId === actor.sessionId || call.calleeDevice?.sessionId === actor.sessionId) {
      this.standby.set(`${call.callId}:${actor.sessionId}`, { connectionId: actor.connectionId, sessionId: actor.sessionId, at: this.platform.now() });
    }
    if (call.calleeId !== actor.userId || (call.state !== 'calling' && call.state !== 'ringing')) return;
    // The gateway calls this while registering the socket, before its auth.ok goes out; a client ignores frames
    // that come before auth.ok, so the invite waits for the next turn of the event loop.
    const timer = setTimeout(() => void this.run(async () => {
      const current = this.calls.get(call.callId);
      if (!current || (current.state !== 'calling' && current.state !== 'ringing')) return;
      await this.deliverTo([actor.connectionId!], { type: 'call.incoming', call: machine.toCallInfo(current) });
      if (current.state === 'calling') {
        const ringing = machine.delivered(current);
        this.calls.set(call.callId, ringing);
        await this.deliver([call.callerId], { type: 'call.ringing', call: machine.toCallInfo(ringing) });
      }
    }), 0);
    timer.unref();
  }

  /** A connection closed: if it carried a call, the call ends unless the device is back within the grace. */
  disconnected(actor: Actor): void {
    const call = this.liveCallOf(actor.userId);
    if (!call && actor.connectionId) this.tellOwnerElsewhere(actor, 'disconnected');
    if (!call || !actor.connectionId) return;
    const lost = machine.connectionLost(call, actor.connectionId);
    if (!lost) return;
    const key = `${call.callId}:${actor.sessionId}`;
    const waiting = this.standby.get(key);
    this.standby.delete(key);
    const back = waiting && this.platform.now() - waiting.at < this.platform.config.calls.disconnectGraceMs ? machine.reconnected(lost.call, { connectionId: waiting.connectionId, sessionId: waiting.sessionId }) : null;
    if (back) {
      this.calls.set(call.callId, back.call);
      return;
    }
    this.calls.set(call.callId, lost.call);
    this.setTimer(`${call.callId}:${lost.side}`, this.platform.config.calls.disconnectGraceMs, () =>
      this.apply(call.callId, (c) => machine.graceExpired(c, lost.side, this.platform.now())),
    );
  }

  /** The call as a party sees it (tests and diagnostics). */
  get(callId: string): CallInfo | undefined {
    const call = this.calls.get(callId);
    return call && machine.toCallInfo(call);
  }

  /** Stops every timer (server shutdown). */
  close(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.stopRouting?.();
  }

  /** Cluster mode: the node process holding this call when it is another one (the frame must go there). */
  ownerElsewhere(callId: string): string | null {
    return this.router?.ownerElsewhere(callId) ?? null;
  }

  /** Sends a device's call frame to the node that holds the call; that node answers the device. */
  forward(owner: string, callId: string, actor: Actor, command: Omit<CallCommand, 'actor'>): Promise<void> {
    return this.router!.forward(owner, callId, actor, command);
  }

  /** A user's device came or went on this node while their call is held by another one: tell that node. */
  private tellOwnerElsewhere(actor: Actor, action: 'connected' | 'disconnected'): void {
    const router = this.router;
    if (!router) return;
    void this.run(async () => {
      const live = await router.liveElsewhere(actor.userId);
      if (live) await router.forward(live.owner, live.callId, actor, { action });
    });
  }

  /** A frame forwarded by another node for a call this one holds: run it as that device, answer the device. */
  private onBusEvent(event: BusEvent): void {
    if (event.kind !== 'call-command' || event.to !== this.platform.instanceId) return;
    const { command, callId } = event;
    void this.forwarded.run(callId, () =>
      this.run(async () => {
        const answer = await runForwarded(this, callId, command);
        if (answer) await this.deliverTo([command.actor.connectionId], answer);
      }),
    );
  }

  private async resolveTarget(userId: string, target: { conversationId?: string; calleeId?: string }) {
    if (target.calleeId !== undefined) {
      if (target.calleeId === userId) throw new AppError('CANNOT_TARGET_SELF');
      const friendship = await this.contacts.findFriendship(userId, target.calleeId);
      if (!friendship) {
        checkCanInteract(await this.contacts.blockState(userId, target.calleeId));
        throw new AppError('NOT_FRIENDS');
      }
      return { conversationId: friendship.conversation_id, calleeId: target.calleeId };
    }
    const conversationId = target.conversationId!;
    const [conversation, members] = await Promise.all([
      this.conversationsRepo.findConversation(conversationId),
      this.conversationsRepo.members(conversationId),
    ]);
    // A conversation the caller is not in answers like one that does not exist (BR-19).
    if (!conversation || !members.some((m) => m.user_id === userId)) throw new AppError('CONVERSATION_NOT_FOUND');
    const peer = members.find((m) => m.user_id !== userId);
    if (conversation.kind !== 'direct' || members.length !== 2 || !peer) throw new AppError('VALIDATION_FAILED', { message: 'Calls are one-to-one.' });
    const friendship = await this.contacts.findFriendship(userId, peer.user_id);
    if (!friendship) {
      checkCanInteract(await this.contacts.blockState(userId, peer.user_id));
      throw new AppError('NOT_FRIENDS');
    }
    return { conversationId, calleeId: peer.user_id };
  }

  private liveCallOf(userId: string): Call | undefined {
    const id = this.liveByUser.get(userId);
    const call = id ? this.calls.get(id) : undefined;
    return call && machine.isLive(call) ? call : undefined;
  }

  /** Applies a transition a client asked for: refused ones throw their code and change nothing. */
  private async transition(callId: string, step: (call: Call) => Transition): Promise<Call> {
    const call = this.calls.get(callId);
    if (!call) throw new AppError('CALL_NOT_FOUND');
    const result = step(call);
    if (!result.ok) throw new AppError(result.code);
    this.calls.set(callId, result.call);
    return result.call;
  }

  /** Applies a timer's transition; when it ends the call, tells both sides and records it. */
  private apply(callId: string, step: (call: Call) => Call): void {
    const call = this.calls.get(callId);
    if (!call || !machine.isLive(call)) return;
    const next = step(call);
    if (next === call) return;
    this.calls.set(callId, next);
    if (!machine.isLive(next)) void this.run(() => this.finish(next));
  }

  /** A call just ended: timers off, the record posted, then both users' devices told. */
  private async finish(call: Call): Promise<CallInfo> {
    for (const key of [call.callId, `${call.callId}:caller`, `${call.callId}:callee`]) this.clearTimer(key);
    this.standby.delete(`${call.callId}:${call.callerDevice.sessionId}`);
    if (call.calleeDevice) this.standby.delete(`${call.callId}:${call.calleeDevice.sessionId}`);
    for (const userId of [call.callerId, call.calleeId]) {
      if (this.liveByUser.get(userId) === call.callId) this.liveByUser.delete(userId);
    }
    this.forgetLater(call.callId);
    await this.router?.release(call.callId);
    const info = machine.toCallInfo(call);
    // Record first: `call.ended` reaches clients only once the record is committed (events after the commit).
    await this.record(call);
    await this.deliver([call.callerId, call.calleeId], { type: 'call.ended', call: info, reason: call.reason ?? 'hangup' });
    return info;
  }

  /** The call's record in its conversation, from the caller. */
  private async record(call: Call): Promise<void> {
    await this.conversations.postServerMessage(call.conversationId, call.callerId, {
      kind: 'call',
      callId: call.callId,
      media: call.media,
      outcome: call.outcome ?? 'failed',
      durationMs: machine.durationMs(call),
    });
  }

  private deliver(userIds: string[], frame: ServerFrame): Promise<void> {
    return this.platform.bus.publish({ kind: 'deliver', userIds, frame });
  }

  private deliverTo(connectionIds: string[], frame: ServerFrame): Promise<void> {
    return this.platform.bus.publish({ kind: 'deliver-connections', connectionIds, frame });
  }

  private setTimer(key: string, ms: number, fn: () => void): void {
    this.clearTimer(key);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      fn();
    }, ms);
    timer.unref();
    this.timers.set(key, timer);
  }

  private clearTimer(key: string): void {
    const timer = this.timers.get(key);
    if (timer) clearTimeout(timer);
    this.timers.delete(key);
  }

  private forgetLater(callId: string): void {
    this.setTimer(`${callId}:forget`, ENDED_RETENTION_MS, () => this.calls.delete(callId));
  }

  private async run(task: () => Promise<unknown>): Promise<void> {
    try {
      await task();
    } catch (error) {
      this.platform.log.error({ err: error }, 'call event failed');
    }
  }
}

function party(actor: Actor): Party {
  return { userId: actor.userId, sessionId: actor.sessionId, connectionId: actor.connectionId ?? '' };
}
