import { AppError } from '../../errors.js';

export interface MemberCursor {
  user_id: string;
  read_seq: number;
  /** Groups: a departed member's history ends at visible_until_seq; a member reads only after visible_from_seq. */
  left_at?: number | null;
  left_reason?: string | null;
  role?: string;
  muted_until?: number | null;
  visible_from_seq?: number;
  visible_until_seq?: number | null;
}

export interface Membership {
  conversation: { id: string; kind: string; last_seq: number };
  /** All members with their read cursors (two for a direct conversation; departed group members too). */
  members: MemberCursor[];
  self: MemberCursor;
}

/** The seqs the member may read: (from, until]. */
export function visibleRange(membership: Membership): { from: number; until: number } {
  const { self, conversation } = membership;
  const until = self.visible_until_seq ?? null;
  return { from: self.visible_from_seq ?? 0, until: until === null ? conversation.last_seq : Math.min(until, conversation.last_seq) };
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
