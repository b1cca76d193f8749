import {
  IceServersResponseSchema,
  type CallEndReason,
  type CallInfo,
  type CallMedia,
  type CallSignal,
  type ClientFrame,
  type IceServersResponse,
  type ServerFrame,
} from '@kkchat/protocol';
import { ApiError } from './errors.js';
import type { HttpClient } from './http.js';
import type { Realtime } from './realtime.js';

/**
 * Call signaling (no media): the app owns the RTCPeerConnection and uses this to ring, answer, end and relay
 * SDP/ICE. Actions resolve with the call as the server holds it afterwards and reject with an ApiError
 * (CALL_ENDED, ALREADY_IN_CALL, ...). Events arrive on the client: 'call.incoming', 'call.ringing',
 * 'call.unreachable', 'call.accepted', 'call.answered_elsewhere', 'call.ended', 'call.signal'.
 */
export interface CallsApi {
  /** Calls a friend, by the direct conversation or by user id. */
  invite(target: { conversationId: string } | { calleeId: string }, media: CallMedia): Promise<CallInfo>;
  accept(callId: string): Promise<CallInfo>;
  reject(callId: string): Promise<CallInfo>;
  cancel(callId: string): Promise<CallInfo>;
  /** `failed`: this device could not set up the media; the record says so. */
  hangup(callId: string, reason?: 'hangup' | 'failed'): Promise<CallInfo>;
  /** Relays an SDP offer/answer or ICE candidate to the other device in the call; false when offline. */
  signal(callId: string, signal: CallSignal): boolean;
  /** STUN/TURN servers for RTCPeerConnection (TURN credentials expire after ttlSec). */
  iceServers(): Promise<IceServersResponse>;
}

/** Payloads of the call events. */
export interface CallEvents {
  'call.incoming': CallInfo;
  'call.ringing': CallInfo;
  'call.unreachable': CallInfo;
  'call.accepted': CallInfo;
  'call.answered_elsewhere': CallInfo;
  'call.ended': { call: CallInfo; reason: CallEndReason };
  'call.signal': { callId: string; signal: CallSignal };
}

type CallActionFrame = DistributiveOmit<Extract<ClientFrame, { type: 'call.invite' | 'call.accept' | 'call.reject' | 'call.cancel' | 'call.hangup' }>, 'rid'>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export function createCallsApi(http: HttpClient, realtime: Realtime, timeoutMs: number): CallsApi {
  const act = async (frame: CallActionFrame): Promise<CallInfo> => {
    const reply = await realtime.request({ ...frame, rid: realtime.nextRid() } as ClientFrame & { rid: string }, timeoutMs);
    if (reply.type !== 'call.ok') throw ApiError.client('BAD_RESPONSE', `Unexpected reply ${reply.type} to ${frame.type}`);
    return reply.call;
  };
  return {
    invite: (target, media) => act({ type: 'call.invite', media, ...target }),
    accept: (callId) => act({ type: 'call.accept', callId }),
    reject: (callId) => act({ type: 'call.reject', callId }),
    cancel: (callId) => act({ type: 'call.cancel', callId }),
    hangup: (callId, reason) => act({ type: 'call.hangup', callId, ...(reason ? { reason } : {}) }),
    signal: (callId, signal) => realtime.send({ type: 'call.signal', callId, signal }),
    iceServers: () => http.request('GET', '/calls/ice-servers', { schema: IceServersResponseSchema }),
  };
}

/** Turns a call frame from the server into its event; null for other frames. */
export function callEvent(frame: ServerFrame): { [K in keyof CallEvents]: [K, CallEvents[K]] }[keyof CallEvents] | null {
  switch (frame.type) {
    case 'call.incoming':
    case 'call.ringing':
    case 'call.unreachable':
    case 'call.accepted':
    case 'call.answered_elsewhere':
      return [frame.type, frame.call];
    case 'call.ended':
      return ['call.ended', { call: frame.call, reason: frame.reason }];
    case 'call.signal':
      return ['call.signal', { callId: frame.callId, signal: frame.signal }];
    default:
      return null;
  }
}
