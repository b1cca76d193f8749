import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { CallEndReason, CallInfo, CallMedia, CallSignal, UserPublic } from '@kkchat/protocol';
import { ApiError, getClient, type KKChatClient } from '../sdk';
import { mediaErrorKey, PeerSession } from '../lib/call-session';
import { startRingtone } from '../lib/ringtone';
import { useContactsStore } from './contacts';
import { useConversationsStore } from './conversations';
import { useSessionStore } from './session';

/**
 * idle → dialing (invite sent) → outgoing (ringing / unreachable) → connecting (answered, media negotiating)
 * → active (peer connection connected); or idle → incoming → connecting → active. Any end returns to idle with
 * a notice saying what happened.
 */
export type CallPhase = 'idle' | 'dialing' | 'outgoing' | 'incoming' | 'connecting' | 'active';

export interface CallNotice {
  key: string;
  params: Record<string, string>;
}

/** Tests set `window.__kkchatIceFilter = 'loopback'` to keep media on 127.0.0.1 (and may inspect the call). */
interface TestHooks {
  __kkchatIceFilter?: string;
  __kkchatCall?: { pc: RTCPeerConnection | null; phase: string };
}
const testHooks = globalThis as unknown as TestHooks;

export const useCallStore = defineStore('call', () => {
  const phase = ref<CallPhase>('idle');
  const call = ref<CallInfo | null>(null);
  const peer = ref<UserPublic | null>(null);
  const media = ref<CallMedia>('audio');
  /** Whether this device is the caller. */
  const outgoing = ref(false);
  const reachability = ref<'calling' | 'ringing' | 'unreachable'>('calling');
  const muted = ref(false);
  const cameraOff = ref(false);
  const localStream = shallowRef<MediaStream | null>(null);
  const remoteStream = shallowRef<MediaStream | null>(null);
  const connectedAt = ref<number | null>(null);
  const notice = ref<CallNotice | null>(null);
  const now = ref(Date.now());
  let session: PeerSession | null = null;
  let stopRing: (() => void) | null = null;
  let ticker: ReturnType<typeof setInterval> | null = null;
  let ringTimer: ReturnType<typeof setTimeout> | null = null;
  let noticeTimer: ReturnType<typeof setTimeout> | null = null;
  /** Signals that arrived before this device set up its peer connection. */
  let early: CallSignal[] = [];

  const peerName = computed(() => (peer.value ? peer.value.displayName || peer.value.username : ''));
  const durationMs = computed(() => (connectedAt.value ? Math.max(0, now.value - connectedAt.value) : 0));
  const myId = () => useSessionStore().user?.id ?? getClient().user?.id ?? '';

  function findPeer(info: Pick<CallInfo, 'conversationId' | 'callerId' | 'calleeId'>): UserPublic | null {
    const otherId = info.callerId === myId() ? info.calleeId : info.callerId;
    const summaryPeer = useConversationsStore().summaries[info.conversationId]?.peer;
    if (summaryPeer?.id === otherId) return summaryPeer;
    return useContactsStore().byUserId.get(otherId)?.user ?? null;
  }

  function say(key: string, params: Record<string, string> = {}, ms = 6000): void {
    notice.value = { key, params };
    if (noticeTimer) clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => (notice.value = null), ms);
  }

  function dismissNotice(): void {
    notice.value = null;
  }

  async function getMedia(kind: CallMedia): Promise<MediaStream | null> {
    try {
      if (!navigator.mediaDevices?.getUserMedia) throw Object.assign(new Error('no media'), { name: 'NotSupportedError' });
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: kind === 'video' });
      localStream.value = stream;
      return stream;
    } catch (error) {
      say(mediaErrorKey(error), {}, 10_000);
      return null;
    }
  }

  /** Calls the peer of a one-to-one conversation. */
  async function start(conversationId: string, who: UserPublic, kind: CallMedia): Promise<void> {
    if (phase.value !== 'idle') {
      say('call.alreadyInCall');
      return;
    }
    notice.value = null;
    phase.value = 'dialing';
    outgoing.value = true;
    peer.value = who;
    media.value = kind;
    reachability.value = 'calling';
    const stream = await getMedia(kind);
    if (!stream) {
      reset();
      return;
    }
    try {
      const info = await getClient().calls.invite({ conversationId }, kind);
      if (phase.value !== 'dialing') return;
      call.value = info;
      if (info.state === 'ended') {
        finish(info, info.outcome === 'busy' ? 'busy' : 'hangup');
        return;
      }
      phase.value = 'outgoing';
      if (info.state === 'ringing') reachability.value = 'ringing';
    } catch (error) {
      reset();
      const code = error instanceof ApiError ? error.code : 'INTERNAL';
      say(`errors.${code}`);
    }
  }

  async function accept(kind: CallMedia): Promise<void> {
    const info = call.value;
    if (phase.value !== 'incoming' || !info) return;
    stopRinging();
    media.value = info.media === 'video' ? kind : 'audio';
    phase.value = 'connecting';
    const stream = await getMedia(media.value);
    if (!stream) {
      // The caller learns the call failed rather than ringing on.
      await getClient().calls.hangup(info.callId, 'failed').catch(() => undefined);
      reset();
      return;
    }
    try {
      await setupSession(stream);
      call.value = await getClient().calls.accept(info.callId);
      for (const signal of early.splice(0)) await session?.handle(signal);
    } catch (error) {
      reset();
      say(`errors.${error instanceof ApiError ? error.code : 'INTERNAL'}`);
    }
  }

  async function reject(): Promise<void> {
    const info = call.value;
    if (phase.value !== 'incoming' || !info) return;
    reset();
    await getClient().calls.reject(info.callId).catch(() => undefined);
  }

  /** Cancel while ringing, hang up when answered. */
  async function hangup(): Promise<void> {
    const info = call.value;
    const wasPhase = phase.value;
    if (!info) {
      reset();
      return;
    }
    const client = getClient();
    try {
      if (wasPhase === 'outgoing' || wasPhase === 'dialing') await client.calls.cancel(info.callId);
      else await client.calls.hangup(info.callId);
    } catch {
      // Already over on the server (the ended event says how); just leave.
      if (call.value?.callId === info.callId) reset();
    }
  }

  function toggleMute(): void {
    muted.value = !muted.value;
    for (const track of localStream.value?.getAudioTracks() ?? []) track.enabled = !muted.value;
  }

  function toggleCamera(): void {
    cameraOff.value = !cameraOff.value;
    for (const track of localStream.value?.getVideoTracks() ?? []) track.enabled = !cameraOff.value;
  }

  async function setupSession(stream: MediaStream): Promise<void> {
    const client = getClient();
    const info = call.value!;
    const ice = await client.calls.iceServers().catch(() => ({ iceServers: [], ttlSec: 0 }));
    session = new PeerSession({
      iceServers: ice.iceServers,
      loopbackOnly: testHooks.__kkchatIceFilter === 'loopback',
      send: (signal) => client.calls.signal(info.callId, signal),
      onRemoteStream: (remote) => (remoteStream.value = remote),
      onConnectionState: (state) => {
        if (state === 'connected' && phase.value === 'connecting') {
          phase.value = 'active';
          connectedAt.value = Date.now();
          ticker ??= setInterval(() => (now.value = Date.now()), 1000);
        } else if (state === 'failed' && call.value?.callId === info.callId) {
          void client.calls.hangup(info.callId, 'failed').catch(() => undefined);
        }
      },
    });
    session.addLocalStream(stream);
    if (testHooks.__kkchatIceFilter !== undefined) testHooks.__kkchatCall = { pc: session.pc, phase: 'connecting' };
  }

  // ---- server events ----
  function isMine(info: CallInfo): boolean {
    return call.value?.callId === info.callId;
  }

  function onIncoming(info: CallInfo): void {
    if (phase.value !== 'idle' || info.callerId === myId()) return;
    notice.value = null;
    call.value = info;
    peer.value = findPeer(info);
    media.value = info.media;
    outgoing.value = false;
    phase.value = 'incoming';
    stopRing = startRingtone();
    // The server ends an unanswered call at ringUntil; stop ringing then even if that event never arrives.
    ringTimer = setTimeout(() => {
      if (call.value?.callId === info.callId && phase.value === 'incoming') finish(info, 'timeout');
    }, Math.max(1000, info.ringUntil - info.createdAt + 2000));
  }

  function onReach(info: CallInfo, state: 'ringing' | 'unreachable'): void {
    if (!isMine(info) && !(phase.value === 'dialing' && info.callerId === myId())) return;
    if (phase.value === 'dialing' || phase.value === 'outgoing') reachability.value = state;
  }

  async function onAccepted(info: CallInfo): Promise<void> {
    if (!isMine(info) || !outgoing.value || phase.value !== 'outgoing') return;
    call.value = info;
    phase.value = 'connecting';
    const stream = localStream.value;
    if (!stream) return;
    await setupSession(stream);
    await session?.offer();
  }

  function onSignal(event: { callId: string; signal: CallSignal }): void {
    if (call.value?.callId !== event.callId) return;
    if (!session) {
      early.push(event.signal);
      return;
    }
    void session.handle(event.signal).catch(() => undefined);
  }

  function finish(info: CallInfo, reason: CallEndReason): void {
    const wasOutgoing = outgoing.value;
    const name = peerName.value;
    const talked = durationMs.value;
    reset();
    switch (reason) {
      case 'busy':
        say('call.busy', { name });
        break;
      case 'rejected':
        say(wasOutgoing ? 'call.rejected' : 'call.ended', { name, duration: formatDuration(0) });
        break;
      case 'timeout':
        say(wasOutgoing ? 'call.noAnswer' : 'call.missed', { name });
        break;
      case 'cancelled':
        say(wasOutgoing ? 'call.ended' : 'call.missed', { name, duration: formatDuration(0) });
        break;
      case 'disconnected':
        say('call.disconnected', { name });
        break;
      case 'failed':
        say('call.failed');
        break;
      default:
        say('call.ended', { duration: formatDuration(info.answeredAt && info.endedAt ? info.endedAt - info.answeredAt : talked) });
    }
  }

  function reset(): void {
    stopRinging();
    session?.close();
    session = null;
    early = [];
    for (const track of localStream.value?.getTracks() ?? []) track.stop();
    localStream.value = null;
    remoteStream.value = null;
    if (ticker) clearInterval(ticker);
    ticker = null;
    phase.value = 'idle';
    call.value = null;
    connectedAt.value = null;
    muted.value = false;
    cameraOff.value = false;
    if (testHooks.__kkchatCall) testHooks.__kkchatCall = { pc: null, phase: 'idle' };
  }

  function stopRinging(): void {
    stopRing?.();
    stopRing = null;
    if (ringTimer) clearTimeout(ringTimer);
    ringTimer = null;
  }

  /** Routes the SDK's call events here; returns the unsubscribe function. */
  function bind(client: KKChatClient): () => void {
    const subscriptions = [
      client.on('call.incoming', onIncoming),
      client.on('call.ringing', (info) => onReach(info, 'ringing')),
      client.on('call.unreachable', (info) => onReach(info, 'unreachable')),
      client.on('call.accepted', (info) => void onAccepted(info).catch(() => undefined)),
      client.on('call.answered_elsewhere', (info) => {
        if (isMine(info) && phase.value === 'incoming') {
          reset();
          say('call.answeredElsewhere', {}, 3000);
        }
      }),
      client.on('call.ended', ({ call: info, reason }) => {
        // A call that ended while this device was still dialing (busy) is handled by start().
        if (isMine(info)) finish(info, reason);
      }),
      client.on('call.signal', onSignal),
    ];
    return () => {
      for (const off of subscriptions) off();
      reset();
    };
  }

  return {
    phase,
    call,
    peer,
    peerName,
    media,
    outgoing,
    reachability,
    muted,
    cameraOff,
    localStream,
    remoteStream,
    durationMs,
    notice,
    start,
    accept,
    reject,
    hangup,
    toggleMute,
    toggleCamera,
    dismissNotice,
    bind,
  };
});

/** 65_000 → "1:05", 3_725_000 → "1:02:05". */
export function formatDuration(ms: number): string {
  const total = Math.floor(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}
