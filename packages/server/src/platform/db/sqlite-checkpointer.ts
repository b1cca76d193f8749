import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type SQLite from 'better-sqlite3';

/**
 * How often the checkpointer copies the write-ahead log back into the database file while it grows, and while it
 * does not. A run of one-to-one sends with a batch every few milliseconds (checkpointer beside a writer, 10 s
 * each, two rounds) gave a batch's p99 of 16 ms at 100 ms, 9 ms at 20 ms, 6 ms at 5 ms and 13 ms with SQLite's own
 * checkpoints on the writer, and 13 %, 13 % and 7 % more messages than the latter: 20 ms is the better tail
 * without losing the gain.
 */
const BUSY_INTERVAL_MS = 20;
const IDLE_INTERVAL_MS = 250;
/**
 * Log pages past which the serving connection checkpoints by itself after all (SQLite's automatic checkpoint):
 * only reached when the checkpointer cannot keep up or has stopped. SQLite's default is 1,000 pages.
 */
const BACKSTOP_PAGES = 10_000;
/** The log file is cut back to this size after a checkpoint emptied it (it otherwise keeps its largest size). */
const LOG_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

// Control words shared with the worker: [0] = 1 asks it to stop, [1] = 1 once its connection is closed.
const STOP = 0;
const STOPPED = 1;

/**
 * The worker: its own connection to the same file, a PASSIVE checkpoint every interval (it never blocks the
 * writer or readers and skips what a reader still needs), until asked to stop. CommonJS, run with `eval`.
 */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const control = new Int32Array(workerData.control);
try {
  const SQLite = require(workerData.driver);
  const db = new SQLite(workerData.path);
  try {
    db.pragma('synchronous = ' + workerData.synchronous);
    let interval = workerData.idleMs;
    let lastLog = -1;
    while (Atomics.wait(control, ${STOP}, 0, interval) !== 'not-equal' && Atomics.load(control, ${STOP}) === 0) {
      const [result] = db.pragma('wal_checkpoint(PASSIVE)');
      // New pages in the log since the last look: come back soon; none: the writer is idle, look less often.
      interval = result && result.log !== lastLog ? workerData.busyMs : workerData.idleMs;
      lastLog = result ? result.log : -1;
    }
  } finally {
    db.close();
  }
} finally {
  Atomics.store(control, ${STOPPED}, 1);
  Atomics.notify(control, ${STOPPED});
}
`;

export interface Checkpointer {
  /** Stops the worker and waits (briefly, synchronously) until its connection is closed. */
  stop(): void;
}

/**
 * Moves SQLite's checkpoints off the serving thread. In WAL mode every commit appends the changed pages to the log,
 * and by default the committing connection copies the log back into the database file once it holds 1,000 pages:
 * a pause of several milliseconds inside a commit, on the one thread that also serves every socket (a profile of
 * one-to-one sends put about a third of the commit time there). Here a worker thread with its own connection
 * checkpoints instead, on the other core: every 20 ms while the log grows, every 250 ms while it does not. The
 * serving connection's automatic checkpoint stays as a backstop at 10,000 pages (under steady writes the log only
 * starts over from there: a passive checkpoint never catches up with a writer that keeps committing), and is back
 * at SQLite's default if the worker fails. Durability is unchanged: a commit is durable once it is in the log
 * (synced per the `synchronous` setting), whoever copies it later.
 */
export function startCheckpointer(
  db: SQLite.Database,
  path: string,
  synchronous: 'FULL' | 'NORMAL',
  onError: (error: Error) => void,
): Checkpointer {
  db.pragma(`wal_autocheckpoint = ${BACKSTOP_PAGES}`);
  db.pragma(`journal_size_limit = ${LOG_SIZE_LIMIT_BYTES}`);
  const control = new Int32Array(new SharedArrayBuffer(8));
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { control: control.buffer, driver, path, synchronous, busyMs: BUSY_INTERVAL_MS, idleMs: IDLE_INTERVAL_MS },
  });
  worker.unref();
  let stopping = false;
  // A failed worker exits too; the exit puts SQLite's own checkpoint back.
  worker.on('error', (error) => {
    onError(new Error(`SQLite checkpointer stopped, the server checkpoints by itself again: ${error.message}`, { cause: error }));
  });
  worker.on('exit', () => {
    if (!stopping && db.open) db.pragma('wal_autocheckpoint = 1000');
  });
  return {
    stop() {
      if (stopping) return;
      stopping = true;
      Atomics.store(control, STOP, 1);
      Atomics.notify(control, STOP);
      // At most one checkpoint is in progress; the worker closes its connection right after it.
      Atomics.wait(control, STOPPED, 0, 5_000);
    },
  };
}
