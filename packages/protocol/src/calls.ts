import { z } from 'zod';

/**
 * Voice and video calls: signaling frames over `/ws`, the `call` message kind that records each call in its
 * conversation, and the ICE servers endpoint. Media flows peer to peer (WebRTC); the server only relays SDP and
 * ICE candidates between the two devices in the call. See docs/protocol.md ("Calls").
 */

const CallId = z.string().min(1).max(64);
const Rid = z.string().max(64).optional();
const Ts = z.number().int().nonnegative();

export const CALL_LIMITS = {
  /** Largest SDP (offer or answer) the server relays, in characters. */
  sdpMaxChars: 16_000,
  /** Largest ICE candidate line, in characters. */
  candidateMaxChars: 1_024,
  /** Signal frames one device may send per window (a call needs a few dozen). */
  signalsPerWindow: 120,
  signalWindowMs: 10_000,
} as const;

export const CallMediaSchema = z.enum(['audio', 'video']);
export type CallMedia = z.infer<typeof CallMediaSchema>;

/** How a call ended, as recorded in the conversation. */
export const CallOutcomeSchema = z.enum(['completed', 'missed', 'rejected', 'cancelled', 'busy', 'failed']);
export type CallOutcome = z.infer<typeof CallOutcomeSchema>;

/**
 * Why a call ended, in more detail than its outcome: `hangup` (either side), `rejected`, `cancelled` (the caller
 * gave up while it rang), `busy` (the callee was in another call), `timeout` (no answer), `disconnected` (a
 * party's connection dropped and did not come back within the grace period), `failed` (a client reported that
 * the media could not be set up).
 */
export const CallEndReasonSchema = z.enum(['hangup', 'rejected', 'cancelled', 'busy', 'timeout', 'disconnected', 'failed']);
export type CallEndReason = z.infer<typeof CallEndReasonSchema>;

/** `calling`: no callee device has the invite yet; `ringing`: at least one has; `active`: answered. */
export const CallStateSchema = z.enum(['calling', 'ringing', 'active', 'ended']);
export type CallState = z.infer<typeof CallStateSchema>;

export const CallInfoSchema = z.object({
  callId: CallId,
  conversationId: z.string().min(1).max(64),
  callerId: z.string().min(1).max(64),
  calleeId: z.string().min(1).max(64),
  media: CallMediaSchema,
  state: CallStateSchema,
  createdAt: Ts,
  /** While unanswered: when the server gives up and records a missed call. */
  ringUntil: Ts,
  answeredAt: Ts.nullable(),
  endedAt: Ts.nullable(),
  outcome: CallOutcomeSchema.nullable(),
});
export type CallInfo = z.infer<typeof CallInfoSchema>;

/** The fields of a `call` message (the record a call leaves in its conversation; sender = the caller). */
export const CallRecordFieldsSchema = z.object({
  callId: CallId,
  media: CallMediaSchema,
  outcome: CallOutcomeSchema,
  /** Time from answer to end; 0 when the call was never answered. */
  durationMs: z.number().int().nonnegative(),
});
export type CallRecordFields = z.infer<typeof CallRecordFieldsSchema>;

/** One signaling payload: an SDP offer/answer, a trickled ICE candidate, or the end of candidates. */
export const CallSignalSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('offer'), sdp: z.string().min(1).max(CALL_LIMITS.sdpMaxChars) }),
  z.object({ kind: z.literal('answer'), sdp: z.string().min(1).max(CALL_LIMITS.sdpMaxChars) }),
  z.object({
    kind: z.literal('candidate'),
    candidate: z.string().max(CALL_LIMITS.candidateMaxChars),
    sdpMid: z.string().max(64).nullable(),
    sdpMLineIndex: z.number().int().min(0).max(64).nullable(),
  }),
  z.object({ kind: z.literal('end-of-candidates') }),
]);
export type CallSignal = z.infer<typeof CallSignalSchema>;

// ---- client -> server ----
/**
 * Start a call with a friend: by the direct conversation or by the user (exactly one of the two; the server
 * refuses both or neither with INVALID_FRAME). Answered with `call.ok`.
 */
export const CallInviteFrameSchema = z.object({
  type: z.literal('call.invite'),
  rid: Rid,
  conversationId: z.string().min(1).max(64).optional(),
  calleeId: z.string().min(1).max(64).optional(),
  media: CallMediaSchema,
});
const callAction = <T extends string>(type: T) => z.object({ type: z.literal(type), rid: Rid, callId: CallId });
export const CallAcceptFrameSchema = callAction('call.accept');
export const CallRejectFrameSchema = callAction('call.reject');
export const CallCancelFrameSchema = callAction('call.cancel');
export const CallHangupFrameSchema = callAction('call.hangup').extend({
  /** `failed`: this device could not set up the media (permission denied, no connection). */
  reason: z.enum(['hangup', 'failed']).optional(),
});
export const CallSignalFrameSchema = callAction('call.signal').extend({ signal: CallSignalSchema });

export const CALL_CLIENT_FRAME_SCHEMAS = [
  CallInviteFrameSchema,
  CallAcceptFrameSchema,
  CallRejectFrameSchema,
  CallCancelFrameSchema,
  CallHangupFrameSchema,
  CallSignalFrameSchema,
] as const;
export const CALL_CLIENT_FRAME_TYPES = [
  'call.invite',
  'call.accept',
  'call.reject',
  'call.cancel',
  'call.hangup',
  'call.signal',
] as const;

// ---- server -> client ----
export const CALL_SERVER_FRAME_SCHEMAS = [
  /** The reply to a call frame with a rid: the call as it is after the action. */
  z.object({ type: z.literal('call.ok'), rid: Rid, call: CallInfoSchema }),
  /** To every connected device of the callee (and to a device that connects while the call still rings). */
  z.object({ type: z.literal('call.incoming'), call: CallInfoSchema }),
  /** To the caller's devices: the invite reached at least one of the callee's devices. */
  z.object({ type: z.literal('call.ringing'), call: CallInfoSchema }),
  /** To the caller's devices: the callee has no connected device; the call waits until the ring timeout. */
  z.object({ type: z.literal('call.unreachable'), call: CallInfoSchema }),
  /** To the caller's devices and the accepting device: the call is answered; media negotiation starts. */
  z.object({ type: z.literal('call.accepted'), call: CallInfoSchema }),
  /** To the callee's other devices: stop ringing, another device took the call. */
  z.object({ type: z.literal('call.answered_elsewhere'), call: CallInfoSchema }),
  /** To every device of both parties: the call is over (outcome and reason say how). */
  z.object({ type: z.literal('call.ended'), call: CallInfoSchema, reason: CallEndReasonSchema }),
  /** A signaling payload from the other device in the call. */
  z.object({ type: z.literal('call.signal'), callId: CallId, signal: CallSignalSchema }),
] as const;

// ---- REST ----
export const IceServerSchema = z.object({
  urls: z.array(z.string()),
  username: z.string().optional(),
  credential: z.string().optional(),
});
export type IceServer = z.infer<typeof IceServerSchema>;

/** GET /api/v1/calls/ice-servers: STUN/TURN servers for RTCPeerConnection; TURN credentials expire. */
export const IceServersResponseSchema = z.object({
  iceServers: z.array(IceServerSchema),
  /** Seconds the TURN credentials stay valid (0 when there is no TURN server). */
  ttlSec: z.number().int().nonnegative(),
});
export type IceServersResponse = z.infer<typeof IceServersResponseSchema>;
