import type { Message } from '@kkchat/protocol';
import type { MessageRow } from './conversations.repository.js';

export function toMessage(row: MessageRow): Message {
  return {
    id: row.id,
    conversationId: row.conversation_id,
    seq: Number(row.seq),
    senderId: row.sender_id,
    clientMsgId: row.client_msg_id,
    createdAt: Number(row.created_at),
    kind: 'text',
    text: row.text ?? '',
  };
}
