import type { Logger } from 'pino';

/** A periodic background task (worker role). It must be safe to run on several workers at once. */
export interface ScheduledJob {
  name: string;
  everyMs: number;
  run(): Promise<void>;
}

/**
 * Runs scheduled jobs on a worker node: each on its own timer, never two runs of one job at a time, failures
 * logged and retried at the next tick. Jobs are idempotent (deletes of expired rows), so every worker may run
 * them; nothing needs a leader.
 */
export class JobScheduler {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly jobs: ScheduledJob[],
    private readonly log: Logger,
  ) {}

  start(): void {
    for (const job of this.jobs) {
      let busy = false;
      const timer = setInterval(() => {
        if (busy) return;
        busy = true;
        const run = job
          .run()
          .catch((error: unknown) => this.log.warn({ err: error, job: job.name }, 'scheduled job failed'))
          .finally(() => {
            busy = false;
            this.running.delete(run);
          });
        this.running.add(run);
      }, job.everyMs);
      timer.unref();
      this.timers.push(timer);
    }
  }

  /** Stops the timers and waits for runs in progress. */
  async stop(): Promise<void> {
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    await Promise.all([...this.running]);
  }
}
