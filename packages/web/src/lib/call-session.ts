import type { CallSignal, IceServer } from '@kkchat/protocol';

/**
 * One RTCPeerConnection for a call. The caller's device makes the offer once the callee accepts; the
 * accepting device answers. Candidates trickle through `send` (the SDK relays them to the other device only).
 */
export interface PeerSessionOptions {
  iceServers: IceServer[];
  /** Sends a signaling payload to the other device. */
  send(signal: CallSignal): void;
  onRemoteStream(stream: MediaStream): void;
  onConnectionState(state: RTCPeerConnectionState): void;
  /** Keep only loopback (127.0.0.1) candidates: tests keep media on this machine with it. */
  loopbackOnly?: boolean;
}

export class PeerSession {
  readonly pc: RTCPeerConnection;
  private readonly remote = new MediaStream();
  private readonly pendingCandidates: RTCIceCandidateInit[] = [];

  constructor(private readonly opts: PeerSessionOptions) {
    this.pc = new RTCPeerConnection({ iceServers: opts.iceServers });
    this.pc.onicecandidate = (event) => {
      if (!event.candidate) {
        opts.send({ kind: 'end-of-candidates' });
        return;
      }
      if (!this.allowed(event.candidate.candidate)) return;
      opts.send({
        kind: 'candidate',
        candidate: event.candidate.candidate,
        sdpMid: event.candidate.sdpMid,
        sdpMLineIndex: event.candidate.sdpMLineIndex,
      });
    };
    this.pc.ontrack = (event) => {
      if (!this.remote.getTracks().includes(event.track)) this.remote.addTrack(event.track);
      opts.onRemoteStream(this.remote);
    };
    this.pc.onconnectionstatechange = () => opts.onConnectionState(this.pc.connectionState);
  }

  addLocalStream(stream: MediaStream): void {
    for (const track of stream.getTracks()) this.pc.addTrack(track, stream);
  }

  /** Caller: create and send the offer. Receives audio and video even when sending only audio. */
  async offer(): Promise<void> {
    const kinds = new Set(this.pc.getSenders().map((s) => s.track?.kind));
    if (!kinds.has('audio')) this.pc.addTransceiver('audio', { direction: 'recvonly' });
    if (!kinds.has('video')) this.pc.addTransceiver('video', { direction: 'recvonly' });
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    this.opts.send({ kind: 'offer', sdp: this.strip(offer.sdp ?? '') });
  }

  async handle(signal: CallSignal): Promise<void> {
    switch (signal.kind) {
      case 'offer': {
        await this.pc.setRemoteDescription({ type: 'offer', sdp: this.strip(signal.sdp) });
        await this.flushCandidates();
        const answer = await this.pc.createAnswer();
        await this.pc.setLocalDescription(answer);
        this.opts.send({ kind: 'answer', sdp: this.strip(answer.sdp ?? '') });
        break;
      }
      case 'answer':
        await this.pc.setRemoteDescription({ type: 'answer', sdp: this.strip(signal.sdp) });
        await this.flushCandidates();
        break;
      case 'candidate': {
        if (!this.allowed(signal.candidate)) return;
        const init = { candidate: signal.candidate, sdpMid: signal.sdpMid, sdpMLineIndex: signal.sdpMLineIndex };
        if (this.pc.remoteDescription) await this.pc.addIceCandidate(init);
        else this.pendingCandidates.push(init);
        break;
      }
      case 'end-of-candidates':
        break;
    }
  }

  close(): void {
    this.pc.onicecandidate = null;
    this.pc.ontrack = null;
    this.pc.onconnectionstatechange = null;
    this.pc.close();
  }

  private async flushCandidates(): Promise<void> {
    for (const init of this.pendingCandidates.splice(0)) await this.pc.addIceCandidate(init);
  }

  private allowed(candidate: string): boolean {
    return !this.opts.loopbackOnly || candidate === '' || / 127\.0\.0\.1 /.test(candidate);
  }

  /** With loopbackOnly, drops non-loopback candidates that a description may carry inline. */
  private strip(sdp: string): string {
    if (!this.opts.loopbackOnly) return sdp;
    return sdp
      .split('\r\n')
      .filter((line) => !line.startsWith('a=candidate:') || / 127\.0\.0\.1 /.test(line))
      .join('\r\n');
  }
}

/** Maps a getUserMedia failure to the message the user sees. */
export function mediaErrorKey(error: unknown): 'call.permissionDenied' | 'call.noDevice' | 'call.unsupported' {
  const name = (error as { name?: string } | null)?.name;
  if (name === 'NotFoundError' || name === 'OverconstrainedError' || name === 'NotReadableError') return 'call.noDevice';
  if (name === 'TypeError' || name === 'NotSupportedError') return 'call.unsupported';
  return 'call.permissionDenied';
}
