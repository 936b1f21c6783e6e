import { CLEAN, type Faults } from './network.js';
import type { Prng } from './prng.js';

export interface SimOptions {
  writers: number;
  readers: number;
  linesPerWriter: number;
  longLineChance: number;
  datagramBytes: number;
  faults: Faults;
  faultsForMs: number;
  /** Servers sharing one store; every client has them all, each in its own order. */
  servers: number;
  restarts: number;
  partitions: number;
  /** Servers that go down while the faults last and come back only after (clients must move on). */
  outages: number;
  /**
   * While the faults last, this share of store requests stalls for seconds on its way to the store (a
   * networked store: a slow link, a busy store). Requests are applied in order per server, and one sent
   * before its server crashed is still applied.
   */
  storeStalls: number;
  /**
   * While the faults last, this share of store requests fails (a networked store whose connection drops):
   * half of them before reaching the store, half after it applied them, with the answer lost on the way back.
   */
  storeErrors: number;
  sessionTimeoutMs: number;
  readerDelays: number[];
  /** Virtual time allowed after the network heals for everything to finish. */
  settleMs: number;
  /** Authenticated mode: every client gives its secret, sealed in its handshake. */
  authenticated: boolean;
  /** Plain text (`--insecure-plaintext` on every side): no handshake, nothing sealed. */
  plaintext: boolean;
  /** Readers sharing the queue group 'g' (each message to one of them); one of them may be killed. */
  groupMembers: number;
  /** A group member is killed (no BYE) while the faults last; the others must cover what it held. */
  memberCrash: boolean;
  /** `--group q --count K` consumers, one after the other, until the queue is drained; then one finds it empty. */
  countConsumers: boolean;
  /** A plain reader is killed mid-stream (what it had not printed is lost with it) and restarted later. */
  readerCrash: boolean;
  /** Readers print through a slow output: a message counts as printed a little after it is handed on. */
  slowOutput: boolean;
  /** Each writer stops for this long once, mid-input (longer than the liveness timeout, or a heartbeat). */
  writerPauseMs: number;
  /** While the faults last, the store refuses every append for this long (a full disk), once. */
  storeFullMs: number;
  /**
   * While the faults last, this many times a client's TCP connection drops: what was in flight to and
   * from it is lost, and the client is told (handlePathReset), as the TCP transport tells it.
   */
  pathResets: number;
  /** The store: in memory, or a SQLite file in a temporary directory (the server's default store). */
  store: 'memory' | 'sqlite';
  /**
   * Readers that also watch who is online (as the chat does). Once the run settles, what each shows must
   * be the registry as the store has it: everyone online or offline as they really are (with one server:
   * with several, each reports what its own server sees, docs/SCALING.md).
   */
  watchers: number;
  /**
   * A plain reader run with --once again and again (as from cron) until it has printed the whole log:
   * each run goes on from where the last one stopped, so across runs every message is printed once.
   */
  onceRuns: boolean;
  /**
   * The store keeps only the newest N messages (0: all). Readers that fall behind are told how many they
   * missed: every id a reader skips must have been told, and no more than that; a group likewise.
   */
  retainMessages: number;
  /**
   * The registry is swept as the server sweeps it (--forget-after) while the run goes on: clients long
   * gone are forgotten with their positions, and no client of the run ever is.
   */
  forgetting: boolean;
  /**
   * Writers keep their place in the store (as run-writer --follow does): each is killed this many times
   * while the faults last (what it had unconfirmed lost with it) and started again; every run resumes from
   * the mark stored with its lines, and across runs every line is stored once, in order.
   */
  writerCrashes: number;
  /**
   * Topics beside the default one (test/sim/side-topics.ts), each with writers and a reader of its own, the
   * first with a queue group named as the main workload's: on the same servers, through the same faults.
   */
  sideTopics: number;
}

/** Chooses a scenario from the seed alone. */
export function scenario(rng: Prng): SimOptions {
  const lossy = rng.chance(0.8);
  return {
    writers: rng.int(1, 3),
    readers: rng.int(1, 2),
    linesPerWriter: rng.int(20, 300),
    longLineChance: rng.pick([0, 0.01, 0.05]),
    datagramBytes: rng.pick([512, 1200]),
    faults: lossy
      ? {
          loss: rng.next() * 0.5,
          duplicate: rng.next() * 0.1,
          reorder: rng.next() * 0.2,
          delayMs: 0.05 + rng.next() * 3,
          jitterMs: rng.next() * 2,
        }
      : CLEAN,
    faultsForMs: rng.int(1_000, 15_000),
    restarts: rng.pick([0, 0, 1, 2]),
    partitions: rng.pick([0, 0, 1, 2]),
    servers: 1,
    outages: 0,
    storeStalls: 0,
    storeErrors: 0,
    sessionTimeoutMs: rng.pick([3_000, 30_000]),
    readerDelays: [0, 0, 50, 700],
    settleMs: 120_000,
    authenticated: rng.chance(0.25),
    plaintext: false,
    groupMembers: rng.pick([0, 0, 2, 3]),
    memberCrash: rng.chance(0.3),
    countConsumers: rng.chance(0.3),
    readerCrash: rng.chance(0.25),
    slowOutput: rng.chance(0.5),
    writerPauseMs: rng.pick([0, 0, 3_000, 8_000]),
    storeFullMs: rng.chance(0.15) ? rng.int(500, 5_000) : 0,
    store: 'memory',
    pathResets: 0,
    watchers: 0,
    onceRuns: false,
    retainMessages: 0,
    forgetting: false,
    writerCrashes: 0,
    sideTopics: rng.chance(0.125) ? rng.int(1, 2) : 0,
  };
}
