import type { CallInfo, ServerFrame } from '@kkchat/protocol';
import { nextRid, replyTo, type RawSocket } from './helpers.js';

export type CallReply = Extract<ServerFrame, { type: 'call.ok' | 'error' }>;

/** Sends a call frame with a fresh rid and returns the answer to it (`call.ok` or `error`). */
export async function callRequest(socket: RawSocket, frame: Record<string, unknown>): Promise<CallReply> {
  const rid = nextRid('call');
  socket.send({ ...frame, rid });
  return (await replyTo(socket, rid)) as unknown as CallReply;
}

/** Invites over `socket`; throws when the invite is refused. */
export async function inviteCall(socket: RawSocket, conversationId: string, media: 'audio' | 'video' = 'video'): Promise<CallInfo> {
  const reply = await callRequest(socket, { type: 'call.invite', conversationId, media });
  if (reply.type !== 'call.ok') throw new Error(`invite refused: ${JSON.stringify(reply)}`);
  return reply.call;
}
