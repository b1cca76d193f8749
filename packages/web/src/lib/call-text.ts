import type { Message } from '@kkchat/protocol';
import { formatDuration } from '../stores/call';

const KEYS = {
  completed: 'call.recordCompleted',
  missed: 'call.recordMissed',
  rejected: 'call.recordRejected',
  cancelled: 'call.recordCancelled',
  busy: 'call.recordBusy',
  failed: 'call.recordFailed',
} as const;

/** "Video call · 1:05", "Missed voice call": a call record as one line of text (timeline and chat list). */
export function callRecordText(message: Extract<Message, { kind: 'call' }>, t: (key: string, params?: Record<string, unknown>) => string): string {
  const line = t(KEYS[message.outcome], {
    media: message.media === 'video' ? t('call.video') : t('call.audio'),
    duration: formatDuration(message.durationMs),
  });
  // The line may start with the media word: capitalize it (no effect on Chinese).
  return line.charAt(0).toUpperCase() + line.slice(1);
}
