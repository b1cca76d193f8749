/** Reconnect delays: exponential growth capped at maxDelayMs, with full jitter. */
export interface BackoffOptions {
  minDelayMs?: number;
  maxDelayMs?: number;
}

export const DEFAULT_MIN_DELAY_MS = 500;
export const DEFAULT_MAX_DELAY_MS = 15_000;

/**
 * The delay before retry number `attempt` (0-based): a uniform random value in
 * [0, min(maxDelayMs, minDelayMs * 2^attempt)] ("full jitter"), so that a server restart does not bring every
 * client back in the same instant.
 */
export function backoffDelay(attempt: number, opts: BackoffOptions = {}, random: () => number = Math.random): number {
  const min = opts.minDelayMs ?? DEFAULT_MIN_DELAY_MS;
  const max = opts.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  const ceiling = Math.min(max, min * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/**
 * Starts a timer that never keeps a Node process alive on its own (the SDK's timers are housekeeping: a test or
 * a CLI must be able to exit while a client object still exists).
 */
export function startTimer(fn: () => void, ms: number): ReturnType<typeof setTimeout> {
  const timer = setTimeout(fn, ms);
  (timer as unknown as { unref?: () => void }).unref?.();
  return timer;
}

/** Repeating variant of startTimer. */
export function startInterval(fn: () => void, ms: number): ReturnType<typeof setInterval> {
  const timer = setInterval(fn, ms);
  (timer as unknown as { unref?: () => void }).unref?.();
  return timer;
}
