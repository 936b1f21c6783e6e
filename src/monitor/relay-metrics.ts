import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ServerStats } from '../core/server/server-core.js';
import type { Readiness } from './readiness.js';
import type { ServerView } from './server-view.js';

/** The server's counters as Prometheus counters: name, help, and the figure of ServerStats it reads. */
const COUNTERS: [string, string, keyof ServerStats][] = [
  ['relay_datagrams_received_total', 'Datagrams received', 'datagramsIn'],
  ['relay_datagrams_sent_total', 'Datagrams sent', 'datagramsOut'],
  ['relay_datagrams_malformed_total', 'Datagrams dropped as malformed or out of place', 'malformed'],
  ['relay_datagrams_forged_total', 'Datagrams that were not genuine: a record that does not open (altered, replayed, other keys) or a handshake not sealed to the server key', 'forged'],
  ['relay_public_key_operations_total', 'X25519 operations spent on handshakes', 'publicKeyOps'],
  ['relay_messages_stored_total', 'Messages stored in the log', 'messagesStored'],
  ['relay_commits_total', 'Store transactions that appended (group commits)', 'appends'],
  ['relay_sessions_opened_total', 'Sessions opened', 'sessionsOpened'],
  ['relay_sessions_expired_total', 'Sessions ended by silence', 'sessionsExpired'],
  ['relay_sessions_refused_total', 'Registrations refused', 'refused'],
  ['relay_handshake_retries_total', 'Registrations answered with an address cookie first', 'retries'],
  ['relay_names_reclaimed_total', 'Names given to a newcomer because their holder did not answer', 'namesReclaimed'],
  ['relay_retransmissions_total', 'Datagrams of a writer the server had already: sent again', 'retransmissions'],
  ['relay_throttled_total', 'Datagrams dropped because their writer was over its message rate', 'throttled'],
];

/** Seconds buckets for commits: from a tenth of a millisecond (memory) to a second (a slow disk or redis). */
const COMMIT_SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
const COUNT_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384];

/**
 * The server's metrics in a prom-client registry of its own. Counters and gauges are read from the
 * server at each scrape (nothing is counted twice, nothing costs while nobody scrapes); histograms are
 * observed as commits and replies happen.
 */
export class RelayMetrics {
  readonly registry = new Registry();
  private readonly commitSeconds: Histogram;
  private readonly commitMessages: Histogram;
  private readonly replyMessages: Histogram;

  constructor(view: ServerView, readiness: Readiness) {
    const registers = [this.registry];
    counters(view, registers);
    sizeGauges(view, readiness, registers);
    lagGauges(view, registers);
    tcpMetrics(view, registers);
    this.commitSeconds = new Histogram({ name: 'relay_commit_seconds', help: 'How long a commit took in the store', buckets: COMMIT_SECONDS, registers });
    this.commitMessages = new Histogram({ name: 'relay_commit_messages', help: 'Messages per commit', buckets: COUNT_BUCKETS, registers });
    this.replyMessages = new Histogram({ name: 'relay_fetch_reply_messages', help: 'Messages per reply to a fetch', buckets: [0, ...COUNT_BUCKETS], registers });
    collectDefaultMetrics({ register: this.registry });
  }

  commit(ms: number, messages: number): void {
    this.commitSeconds.observe(ms / 1000);
    this.commitMessages.observe(messages);
  }

  fetchReply(messages: number): void {
    this.replyMessages.observe(messages);
  }
}

type Registers = Registry[];

/** The server's counters, read at each scrape. */
function counters(view: ServerView, registers: Registers): void {
    for (const [name, help, key] of COUNTERS) counterOf(name, help, () => view.core?.stats[key], registers);
}

/** A counter read from a figure that only grows. */
function counterOf(name: string, help: string, read: () => number | undefined, registers: Registers): void {
  let told = 0;
  new Counter({
    name,
    help,
    registers,
    collect() {
      const value = read() ?? told;
      if (value > told) this.inc(value - told);
      told = value;
    },
  });
}

/** The TCP side, when the server serves TCP. */
function tcpMetrics(view: ServerView, registers: Registers): void {
  new Gauge({
    name: 'relay_tcp_connections',
    help: 'TCP connections open',
    registers,
    collect() {
      this.set(view.tcp?.connections ?? 0);
    },
  });
  counterOf('relay_tcp_connections_refused_total', 'TCP connections refused: over --tcp-max-connections or --tcp-max-per-host', () => view.tcp?.refused, registers);
  counterOf('relay_tcp_packets_dropped_total', 'Packets not sent over TCP: the peer did not read them fast enough, or its connection was gone', () => view.tcp?.dropped, registers);
}

/** Sessions by role, the log's extent, and whether the store is up and the server ready. */
function sizeGauges(view: ServerView, readiness: Readiness, registers: Registers): void {
    new Gauge({
      name: 'relay_sessions',
      help: 'Sessions open, by role',
      labelNames: ['role'],
      registers,
      collect() {
        const s = view.snapshot()?.sessions;
        for (const role of ['writer', 'reader', 'observer'] as const) this.set({ role }, s ? s[`${role}s`] : 0);
      },
    });
    new Gauge({
      name: 'relay_topics',
      help: 'Topics: served since the server started (counted against --max-topics), and whose logs are open now',
      labelNames: ['state'],
      registers,
      collect() {
        const counts = view.topics?.();
        if (!counts) return;
        this.set({ state: 'served' }, counts.served);
        this.set({ state: 'open' }, counts.open);
      },
    });
    new Gauge({
      name: 'relay_log_messages',
      help: "The log's extent: first (oldest id kept), next (id of the next message), kept (messages kept)",
      labelNames: ['bound'],
      registers,
      async collect() {
        const size = await view.logSize(readiness.storeUp);
        if (!size) return;
        this.set({ bound: 'first' }, size.first);
        this.set({ bound: 'next' }, size.next);
        this.set({ bound: 'kept' }, size.next - size.first);
      },
    });
    new Gauge({
      name: 'relay_log_bytes',
      help: 'Bytes of message text the log keeps',
      registers,
      async collect() {
        const size = await view.logSize(readiness.storeUp);
        if (size) this.set(size.bytes);
      },
    });
    new Gauge({
      name: 'relay_store_up',
      help: '1 while the store is open and reachable, 0 otherwise',
      registers,
      collect() {
        this.set(readiness.storeUp ? 1 : 0);
      },
    });
    new Gauge({
      name: 'relay_ready',
      help: '1 while the server takes work (what /readyz says), 0 otherwise',
      registers,
      collect() {
        this.set(readiness.ready ? 1 : 0);
      },
    });
}

/** How far behind the readers and groups furthest behind are: bounded, never one series per user. */
function lagGauges(view: ServerView, registers: Registers): void {
    new Gauge({
      name: 'relay_reader_lag_messages',
      help: 'Messages of the log after a reader\'s position: the ten readers furthest behind (a group member shows its group)',
      labelNames: ['reader', 'group'],
      registers,
      collect() {
        this.reset();
        for (const r of view.snapshot()?.readers ?? []) this.set({ reader: r.name, group: r.group ?? '' }, r.lag);
      },
    });
    new Gauge({
      name: 'relay_group_lag_messages',
      help: 'Messages of the log after a queue group\'s position: the ten groups furthest behind',
      labelNames: ['group'],
      registers,
      collect() {
        this.reset();
        for (const g of view.snapshot()?.groups ?? []) this.set({ group: g.name }, g.lag);
      },
    });
}
