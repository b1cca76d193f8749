import { randomUUID } from 'node:crypto';
import type { CallInfo, ServerFrame } from '@kkchat/protocol';
import type { Actor, Platform } from '../../context.js';
import { AppError } from '../../errors.js';
import { isUniqueViolation } from '../../platform/db/errors.js';
import { inTransaction } from '../../platform/db/transaction.js';
import { KeyedQueue } from '../../platform/keyed-queue.js';
import type { CallCommand } from '../../platform/events/event-bus.js';
import type { CallService } from './calls.service.js';

/** A live call's registry rows outlive a node that died by at most this long (the owner refreshes them). */
const LIVE_TTL_MS = 90_000;
/** The owner pushes its calls' expiry forward this often. */
export const REFRESH_EVERY_MS = 30_000;
/** Separates the call's own id from the instance id of the node process that holds it. */
const OWNER_SEPARATOR = '~';
/** The expiry of a call that ended (the rows are kept until either user's next call). */
const ENDED = 0;

export type Claim = 'ok' | 'caller-busy' | 'callee-busy';

/**
 * Calls in cluster mode (issue 6 left this to issue 5). A call's state stays in the memory of the node process that
 * took the invite (its owner): its timers, its devices, its transitions, as on one node. Two things are shared:
 *
 * - Which node owns a call is part of the call id (`<uuid>~<instance id>`), so any node routes a device's frame
 *   (accept, reject, cancel, hangup, signal) to the owner as a `call-command` bus event, keyed by the call so the
 *   frames of one call keep their order. The owner answers the device (`call.ok` / `error` with its rid) through
 *   `deliver-connections`, like every other frame it sends.
 * - Who is in a call: `live_calls`, one row per user (primary key), claimed for both users in one transaction, so a
 *   user is in at most one call whichever nodes the two invites reach (a second invite finds the row: busy). A node
 *   where a user's device connects or disconnects reads the row and tells the owner (ring a new device, let a
 *   device take its call back, start the grace timer). Rows expire 90 s after their owner stops refreshing them,
 *   so a node that dies does not leave its users "in a call" for good.
 */
export class CallRouter {
  /** A call's frames leave this node in the order they came, across the registry read below. */
  private readonly outgoing = new KeyedQueue();

  constructor(private readonly platform: Platform) {}

  newCallId(): string {
    return `${randomUUID()}${OWNER_SEPARATOR}${this.platform.instanceId}`;
  }

  /** The owner of a call held by another node process; null when it is this one's (or not a cluster call id). */
  ownerElsewhere(callId: string): string | null {
    const at = callId.lastIndexOf(OWNER_SEPARATOR);
    if (at < 0) return null;
    const owner = callId.slice(at + 1);
    return owner === this.platform.instanceId ? null : owner;
  }

  /** Registers both users in the call, unless one of them is in a live call already. */
  async claim(callId: string, callerId: string, calleeId: string): Promise<Claim> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.tryClaim(callId, callerId, calleeId);
      } catch (error) {
        // Another node claimed one of the two at the same moment: look again, it is busy now.
        if (!isUniqueViolation(error) || attempt > 2) throw error;
      }
    }
  }

  private tryClaim(callId: string, callerId: string, calleeId: string): Promise<Claim> {
    const now = this.platform.now();
    return inTransaction(this.platform.db, async (trx) => {
      await trx.deleteFrom('live_calls').where('user_id', 'in', [callerId, calleeId]).where('expires_at', '<', now).execute();
      const rows = await trx.selectFrom('live_calls').select('user_id').where('user_id', 'in', [callerId, calleeId]).execute();
      if (rows.some((r) => r.user_id === callerId)) return 'caller-busy';
      if (rows.some((r) => r.user_id === calleeId)) return 'callee-busy';
      const row = { call_id: callId, owner: this.platform.instanceId, expires_at: now + LIVE_TTL_MS };
      // In one order for every claim: two users calling each other at once then wait on the same first row (the
      // later gets a unique violation, looks again, and is busy) instead of each holding the row the other needs.
      const users = [callerId, calleeId].sort();
      await trx.insertInto('live_calls').values(users.map((userId) => ({ user_id: userId, ...row }))).execute();
      return 'ok';
    });
  }

  /**
   * The call ended: its rows stay, marked ended (expiry 0), so a late frame through another node still reaches the
   * owner (which answers CALL_ENDED); the next claim of either user deletes them.
   */
  async release(callId: string): Promise<void> {
    await this.platform.db.updateTable('live_calls').set({ expires_at: ENDED }).where('call_id', '=', callId).execute();
  }

  /** Keeps this node's live calls registered. */
  async refresh(callIds: string[]): Promise<void> {
    if (callIds.length === 0) return;
    await this.platform.db
      .updateTable('live_calls')
      .set({ expires_at: this.platform.now() + LIVE_TTL_MS })
      .where('call_id', 'in', callIds)
      .where('owner', '=', this.platform.instanceId)
      .execute();
  }

  /** The live call of a user held by another node process, if any. */
  async liveElsewhere(userId: string): Promise<{ callId: string; owner: string } | null> {
    const row = await this.platform.db
      .selectFrom('live_calls')
      .select(['call_id', 'owner'])
      .where('user_id', '=', userId)
      .where('expires_at', '>', this.platform.now())
      .executeTakeFirst();
    return row && row.owner !== this.platform.instanceId ? { callId: row.call_id, owner: row.owner } : null;
  }

  /**
   * Sends a device's frame to the call's owner. A call that is not registered (unknown, or its owner died and its
   * rows expired) is refused here rather than sent to no one.
   */
  forward(owner: string, callId: string, actor: Actor, command: Omit<CallCommand, 'actor'>): Promise<void> {
    return this.outgoing.run(callId, () => this.send(owner, callId, actor, command));
  }

  private async send(owner: string, callId: string, actor: Actor, command: Omit<CallCommand, 'actor'>): Promise<void> {
    const row = await this.platform.db.selectFrom('live_calls').select('expires_at').where('call_id', '=', callId).executeTakeFirst();
    const reachable = row !== undefined && (Number(row.expires_at) === ENDED || Number(row.expires_at) > this.platform.now());
    if (!reachable) throw new AppError('CALL_NOT_FOUND');
    await this.platform.bus.publish({
      kind: 'call-command',
      to: owner,
      callId,
      command: { ...command, actor: { userId: actor.userId, sessionId: actor.sessionId, connectionId: actor.connectionId ?? '' } },
    });
  }
}

/**
 * Runs a forwarded frame on the node that holds the call, as the device that sent it (authenticated by its own
 * node), and returns the answer for that device: `call.ok` for an action with a rid, `error` for a refusal.
 */
export async function runForwarded(calls: CallService, callId: string, command: CallCommand): Promise<ServerFrame | null> {
  const actor: Actor = { ...command.actor };
  try {
    let call: CallInfo | undefined;
    switch (command.action) {
      case 'accept':
        call = await calls.accept(actor, callId);
        break;
      case 'reject':
        call = await calls.reject(actor, callId);
        break;
      case 'cancel':
        call = await calls.cancel(actor, callId);
        break;
      case 'hangup':
        call = await calls.hangup(actor, callId, command.reason);
        break;
      case 'signal':
        if (command.signal) await calls.signal(actor, callId, command.signal);
        break;
      case 'connected':
        calls.connected(actor);
        break;
      case 'disconnected':
        calls.disconnected(actor);
        break;
    }
    return call && command.rid !== undefined ? { type: 'call.ok', rid: command.rid, call } : null;
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    return { type: 'error', rid: command.rid, code: error.code, message: error.message };
  }
}
