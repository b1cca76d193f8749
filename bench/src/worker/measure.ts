/** Counters and latency samples for acks and deliveries, and the per-message fan-out tally. */
import { performance } from 'node:perf_hooks';

export const stats = {
  sent: 0,
  acked: 0,
  delivered: 0,
  errors: 0,
  counting: false,
  ackLat: [] as number[],
  delLat: [] as number[],
};
export const MAX_SAMPLES = 50_000;
/** Wall-clock milliseconds with sub-ms precision, comparable across the worker processes (fan-out spans them). */
export const now = (): number => performance.timeOrigin + performance.now();
/** Fan-out: per message (its send time as text), how many members got it and the latest arrival. */
export const fanout = new Map<string, { n: number; max: number }>();
let trackFanout = false;
export function sample(arr: number[], v: number, seen: number): void {
  if (arr.length < MAX_SAMPLES) arr.push(v);
  else {
    const j = Math.floor(Math.random() * seen);
    if (j < MAX_SAMPLES) arr[j] = v;
  }
}
export function onAck(text: string): void {
  stats.acked++;
  if (stats.counting) sample(stats.ackLat, now() - Number(text), stats.acked);
}
export function onDeliver(text: string): void {
  stats.delivered++;
  const lat = now() - Number(text);
  if (stats.counting) sample(stats.delLat, lat, stats.delivered);
  if (trackFanout) {
    const e = fanout.get(text);
    if (e) {
      e.n++;
      if (lat > e.max) e.max = lat;
    } else fanout.set(text, { n: 1, max: lat });
  }
}

/** Error frames by code, reported with each load step. */
export const errorCodes = new Map<string, number>();

/** The benchmark's messages are text whose body is the send time. */
export function textOf(message: object): string {
  return String((message as { text?: unknown }).text ?? '');
}

export async function fanoutTrack(args: { on: boolean }) {
  trackFanout = args.on;
  fanout.clear();
  return { ok: true };
}

export async function fanoutCollect() {
  const out = [...fanout].map(([text, e]) => [text, e.n, e.max] as [string, number, number]);
  fanout.clear();
  return out;
}
