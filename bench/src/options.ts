import type { Target } from './procs.js';

export type Scenario = 'idle' | 'throughput' | 'fanout' | 'storm' | 'http' | 'files';
export const ALL_SCENARIOS: Scenario[] = ['idle', 'throughput', 'fanout', 'storm', 'http', 'files'];

/** embedded: one KKChat process on SQLite. cluster: scripts/cluster.sh (N nodes behind nginx, PostgreSQL, Redis, Kafka). */
export type BenchMode = 'embedded' | 'cluster';

export interface BenchOptions {
  scenarios: Scenario[];
  /** How KKChat runs (default embedded); the relays are single processes either way. */
  mode?: BenchMode;
  /** KKChat nodes in cluster mode (default 3). */
  nodes?: number;
  targets: Target[];
  /** Users registered for the KKChat runs (pairs 2i/2i+1 are friends). */
  users: number;
  idleConnections: number;
  pairs: number;
  stormClients: number;
  /** Members of the fan-out group (all online). */
  groupMembers: number;
  /** First rate (messages/s into the group) of the fan-out ramp. */
  fanoutStartRate: number;
  /** Member sockets that send into the fan-out group. */
  fanoutSenders: number;
  /** Messages sent into each conversation while its members are away (reconnect storm). */
  stormMessages: number;
  stepMs: number;
  httpMs: number;
  /** Messages put into each of the (up to 50) conversations the history scenario pages through. */
  historyMessages: number;
  /** File sizes (MiB) of the files scenario, and the blob stores it runs on. */
  fileSizesMiB: number[];
  fileStores: ('local' | 's3')[];
  workers: number;
  heartbeatMs: number;
  synchronous: ('FULL' | 'NORMAL')[];
  /** Stop raising the rate after this many steps (bounds the run). */
  maxSteps: number;
  startRate: number;
  outDir: string;
  log: (line: string) => void;
  quiet?: boolean;
}
