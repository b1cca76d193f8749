import { AppError } from '../../errors.js';

export interface Membership {
  conversation: { id: string; kind: string; last_seq: number };
  /** All members with their read cursors (two for a direct conversation). */
  members: { user_id: string; read_seq: number }[];
  self: { user_id: string; read_seq: number };
}

/**
 * Reading needs membership. A conversation the actor is not in answers exactly like one that does not exist,
 * so ids cannot be probed (BR-19).
 */
export function checkMember(
  conversation: Membership['conversation'] | undefined,
  members: Membership['members'],
  userId: string,
): Membership {
  const self = members.find((m) => m.user_id === userId);
  if (!conversation || !self) throw new AppError('CONVERSATION_NOT_FOUND');
  return { conversation, members, self };
}

/** The other participant of a direct conversation. */
export function peerOf(membership: Membership, userId: string): string {
  const peer = membership.members.find((m) => m.user_id !== userId);
  if (!peer) throw new AppError('CONVERSATION_NOT_FOUND');
  return peer.user_id;
}
