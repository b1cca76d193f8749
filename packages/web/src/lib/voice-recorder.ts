/** Recording containers in order of preference; browsers support different ones (Chromium: WebM/Opus). */
const TYPES = ['audio/webm;codecs=opus', 'audio/ogg;codecs=opus', 'audio/webm', 'audio/mp4'];

/**
 * A voice clip from the microphone (MediaRecorder). `start` asks for the microphone; `stop` ends the recording,
 * releases the microphone and returns the clip with its length.
 */
export class VoiceRecorder {
  private readonly chunks: Blob[] = [];
  private readonly startedAt = Date.now();

  private constructor(
    private readonly stream: MediaStream,
    private readonly recorder: MediaRecorder,
  ) {
    recorder.ondataavailable = (event) => {
      if (event.data.size > 0) this.chunks.push(event.data);
    };
    recorder.start(250);
  }

  static async start(): Promise<VoiceRecorder> {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const mimeType = TYPES.find((type) => typeof MediaRecorder.isTypeSupported === 'function' && MediaRecorder.isTypeSupported(type));
    return new VoiceRecorder(stream, new MediaRecorder(stream, mimeType ? { mimeType } : {}));
  }

  elapsedMs(): number {
    return Date.now() - this.startedAt;
  }

  stop(): Promise<{ blob: Blob; durationMs: number }> {
    const durationMs = this.elapsedMs();
    return new Promise((resolve) => {
      const finish = () => {
        for (const track of this.stream.getTracks()) track.stop();
        resolve({ blob: new Blob(this.chunks, { type: this.recorder.mimeType || 'audio/webm' }), durationMs });
      };
      if (this.recorder.state === 'inactive') return finish();
      this.recorder.onstop = finish;
      this.recorder.stop();
    });
  }
}
