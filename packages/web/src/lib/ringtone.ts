/**
 * The incoming-call ringtone, synthesized with WebAudio (two tones, 2 s on, 2 s off), so no audio file is
 * downloaded. Returns the function that stops it. Silent when the browser has no AudioContext or blocks it.
 */
export function startRingtone(): () => void {
  const Ctor = (globalThis as { AudioContext?: typeof AudioContext }).AudioContext;
  if (!Ctor) return () => undefined;
  let ctx: AudioContext;
  try {
    ctx = new Ctor();
  } catch {
    return () => undefined;
  }
  const gain = ctx.createGain();
  gain.gain.value = 0;
  gain.connect(ctx.destination);
  const oscillators = [440, 480].map((frequency) => {
    const osc = ctx.createOscillator();
    osc.frequency.value = frequency;
    osc.connect(gain);
    osc.start();
    return osc;
  });
  // Schedule a minute of the cadence ahead; an unanswered call ends well before that.
  const start = ctx.currentTime + 0.05;
  for (let i = 0; i < 15; i++) {
    const at = start + i * 4;
    gain.gain.setValueAtTime(0.12, at);
    gain.gain.setValueAtTime(0, at + 2);
  }
  void ctx.resume().catch(() => undefined);
  return () => {
    for (const osc of oscillators) {
      try {
        osc.stop();
      } catch {
        // already stopped
      }
    }
    void ctx.close().catch(() => undefined);
  };
}
