import type { Message } from '@kkchat/protocol';
import type { MessageRow } from './conversations.repository.js';

export function toMessage(row: MessageRow): Message {
  const base = {
    id: row.id,
    conversationId: row.conversation_id,
    seq: Number(row.seq),
    senderId: row.sender_id,
    clientMsgId: row.client_msg_id,
    createdAt: Number(row.created_at),
  };
  // A removed message is a tombstone whatever it was: the content is gone, the seq stays (issue 7).
  if (row.removed_at !== null && row.removed_at !== undefined) return { ...base, kind: 'removed', removedAt: Number(row.removed_at) };
  // A text message's payload holds its optional fields (group mentions).
  if (row.kind === 'text') return { ...base, ...(row.payload ? (JSON.parse(row.payload) as object) : {}), kind: 'text', text: row.text ?? '' };
  // Other kinds carry their fields in the payload column; the protocol's union describes each kind.
  return { ...base, ...(JSON.parse(row.payload ?? '{}') as object), kind: row.kind } as Message;
}
