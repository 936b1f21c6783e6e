import { addressKey, type Address } from '../../src/core/address.js';
import { ReaderCore, READER_DEFAULTS, type Message } from '../../src/core/reader/reader-core.js';
import { TopicSubscription } from '../../src/core/reader/topic-subscription.js';
import { WRITER_DEFAULTS, WriterCore } from '../../src/core/writer/writer-core.js';
import { FromKind } from '../../src/protocol/constants.js';
import type { SimWorld } from './world.js';

/** The group name the main workload's members use too: in another topic it is another group. */
const GROUP = 'g';
/** The reader of every side topic by a pattern: a session per topic it finds in the server's lists. */
const PATTERN_READER = 'sp';

interface SideWriter {
  topic: string;
  name: string;
  addr: Address;
  core: WriterCore;
  lines: Buffer[];
  submitted: number;
  done: boolean;
}

interface SideReader {
  topic: string;
  name: string;
  addr: Address;
  core: ReaderCore;
  group?: string;
  /** writer name -> the last line number printed of it. */
  lastOf: Map<string, number>;
  lastId: number;
  ids: Set<number>;
}

/**
 * Topics beside the main workload's (the default topic), on the same servers, through the same faults:
 * each side topic has writers of its own, a reader from its start, and one of them a queue group named as
 * the main workload's; and a reader of them all by a pattern (`side.>`), which finds them in the server's
 * lists of topics as they are created. Checked as the run goes: a reader prints only its topic's lines,
 * each writer's in order, ids rising, nothing twice; at the end every line of the topic, once, in its
 * topic's log only, and the pattern's reader has found every side topic and read all of each.
 */
export class SideTopics {
  readonly writers: SideWriter[] = [];
  readonly readers: SideReader[] = [];
  private port = 60000;
  /** Lines per topic, and the ids each topic's group has taken: kept as the run goes, asked after every event. */
  private readonly totals = new Map<string, number>();
  private readonly groupTaken = new Map<string, Set<number>>();
  private readonly subscription = new TopicSubscription(['side.>']);
  /** The pattern reader's observer session, listing the topics again and again. */
  private readonly lister: { core: ReaderCore; addr: Address } | undefined;

  constructor(
    private readonly world: SimWorld,
    count: number,
  ) {
    const { rng } = world;
    for (let t = 1; t <= count; t++) {
      const topic = `side.t${t}`;
      // Names of their own: the registry of who is online is the server's, not the topic's.
      for (let i = 1; i <= 2; i++) this.writers.push(this.writer(topic, `s${t}w${i}`, rng.int(5, 40)));
      this.readers.push(this.reader(topic, `s${t}r`));
      if (t === 1) for (let m = 1; m <= 2; m++) this.readers.push(this.reader(topic, `s${t}m${m}`, GROUP));
      // A writer and a reader left out of the registry, as a chat's direct-message pair: the registry never has them.
      if (t === 1) {
        world.unlisted.add(`s${t}d`);
        this.writers.push(this.writer(topic, `s${t}d`, rng.int(5, 40), true));
        this.readers.push(this.reader(topic, `s${t}d`, undefined, true));
      }
      this.totals.set(topic, this.writers.filter((w) => w.topic === topic).reduce((n, w) => n + w.lines.length, 0));
    }
    if (count > 0) this.lister = this.topicLister();
  }

  get cores(): { nextDeadline(): number | undefined; handleTimeout(now: number): void }[] {
    return [...this.writers.map((w) => w.core), ...this.readers.map((r) => r.core), ...(this.lister ? [this.lister.core] : [])];
  }

  /** Lines in bursts, as the main workload's writers get them. */
  feed(): void {
    for (const w of this.writers) this.world.schedule(this.world.now + this.world.rng.next() * 50, () => this.feedOne(w));
  }

  private feedOne(w: SideWriter): void {
    const { world } = this;
    const burst = world.rng.int(1, 50);
    for (let i = 0; i < burst && w.submitted < w.lines.length && w.core.acceptingInput; i++) w.core.submitLine(w.lines[w.submitted++]!);
    w.core.flush(world.now);
    if (w.submitted >= w.lines.length) return w.core.endInput(world.now);
    world.schedule(world.now + world.rng.next() * 20, () => this.feedOne(w));
  }

  pump(): void {
    const { world } = this;
    for (const w of this.writers) {
      for (let t = w.core.pollTransmit(); t; t = w.core.pollTransmit()) world.net.send(world.now, w.addr, t.to, t.data);
      for (let e = w.core.pollEvent(); e; e = w.core.pollEvent()) {
        if (e.type === 'done') w.done = true;
        if (e.type === 'failed' || e.type === 'refused') world.fail(`${w.topic}/${w.name}: ${e.type}`);
      }
    }
    for (const r of this.readers) {
      for (let t = r.core.pollTransmit(); t; t = r.core.pollTransmit()) world.net.send(world.now, r.addr, t.to, t.data);
      for (let e = r.core.pollEvent(); e; e = r.core.pollEvent()) {
        if (e.type === 'messages') this.printed(r, e.messages);
        if (e.type === 'refused') world.fail(`${r.topic}/${r.name} refused: ${e.reason}`);
      }
    }
    if (this.lister) this.pumpLister(this.lister);
  }

  private pumpLister(lister: { core: ReaderCore; addr: Address }): void {
    const { world } = this;
    for (let t = lister.core.pollTransmit(); t; t = lister.core.pollTransmit()) world.net.send(world.now, lister.addr, t.to, t.data);
    for (let e = lister.core.pollEvent(); e; e = lister.core.pollEvent()) {
      if (e.type === 'refused') world.fail(`${PATTERN_READER}'s topic lister refused: ${e.reason}`);
      if (e.type === 'closed') world.fail(`${PATTERN_READER}'s topic lister closed: it watches for as long as the reader runs`);
      if (e.type !== 'topics') continue;
      const names = e.topics.map((t) => t.topic);
      if (names.some((t, i) => i > 0 && t <= names[i - 1]!)) world.fail(`topics listed out of order: ${names.join(' ')}`);
      const next = this.subscription.offer(names);
      if (next.over.length > 0) world.fail(`${PATTERN_READER}: over the bound with ${next.over.join(' ')}`);
      for (const topic of next.topics) this.readers.push(this.reader(topic, PATTERN_READER));
    }
  }

  /** Every side reader has every line of its topic (a group: its members together). */
  finished(): boolean {
    return this.left().length === 0;
  }

  left(): string[] {
    const out: string[] = [];
    for (const w of this.writers) if (!w.done) out.push(`${w.topic}/${w.name} unfinished`);
    for (const r of this.readers) {
      const total = this.totals.get(r.topic)!;
      if (r.group === undefined && r.ids.size < total) out.push(`${r.topic}/${r.name} has ${r.ids.size} of ${total}`);
    }
    if (this.lister) {
      for (const topic of this.totals.keys()) if (!this.subscription.topics.includes(topic)) out.push(`${PATTERN_READER} has not found ${topic}`);
    }
    for (const [topic, taken] of this.groupTaken) {
      if (taken.size < this.totals.get(topic)!) out.push(`${topic} group ${GROUP} has ${taken.size} of ${this.totals.get(topic)}`);
    }
    return out;
  }

  /** Once settled: each topic's log holds its writers' lines, each once and in order, and nothing else. */
  async checkLogs(): Promise<void> {
    const { world } = this;
    for (const topic of new Set(this.writers.map((w) => w.topic))) {
      const log = (await (await world.stores.of(topic)).read(1, { maxMessages: 1e9, maxBytes: 1e12, user: '' })).messages;
      for (const w of this.writers.filter((x) => x.topic === topic)) {
        const got = log.filter((m) => m.from === w.name).map((m) => m.text.toString());
        const want = w.lines.map((l) => l.toString());
        if (got.join('\n') !== want.join('\n')) world.fail(`${topic}: ${w.name}'s lines stored ${got.length} of ${want.length}, or not in order, or twice`);
      }
      if (log.length !== this.writers.filter((x) => x.topic === topic).reduce((n, w) => n + w.lines.length, 0)) world.fail(`${topic}: ${log.length} messages in its log`);
    }
  }

  private printed(r: SideReader, messages: Message[]): void {
    const { world } = this;
    for (const m of messages) {
      const [topic, name, n] = m.text.toString().split(':');
      if (topic !== r.topic || name !== m.from) return world.fail(`${r.topic}/${r.name}: printed '${m.text.toString()}' from ${m.from}, not of its topic`);
      const plain = r.group === undefined;
      // A member may be handed a line again after a server crash (the group resumes from its saved place).
      if (r.ids.has(m.id) && (plain || !world.serverCrashed)) return world.fail(`${r.topic}/${r.name}: printed id ${m.id} twice`);
      if (plain && m.id !== r.lastId + 1) return world.fail(`${r.topic}/${r.name}: id ${m.id} after ${r.lastId}`);
      const last = r.lastOf.get(name) ?? 0;
      if (plain && Number(n) !== last + 1) return world.fail(`${r.topic}/${r.name}: ${name}'s line ${n} after ${last}`);
      r.lastOf.set(name, Math.max(last, Number(n)));
      r.lastId = m.id;
      r.ids.add(m.id);
      if (!plain) this.groupTaken.get(r.topic)!.add(m.id);
    }
  }

  private writer(topic: string, name: string, count: number, unlisted = false): SideWriter {
    const { world } = this;
    const addr = this.address();
    const lines = Array.from({ length: count }, (_, i) => Buffer.from(`${topic}:${name}:${i + 1}`));
    const core = new WriterCore(
      {
        ...WRITER_DEFAULTS,
        name,
        topic,
        servers: world.serverList(this.port),
        producerId: world.rng.u64(),
        nonce: this.port,
        unlisted,
        timeoutMs: 1e12,
        datagramBytes: world.opts.datagramBytes,
        ...world.credentials(name),
      },
      world.now,
    );
    const w: SideWriter = { topic, name, addr, core, lines, submitted: 0, done: false };
    world.nodes.set(addressKey(addr), (data, from) => core.handleDatagram(data, from, world.now));
    return w;
  }

  private reader(topic: string, name: string, group?: string, unlisted = false): SideReader {
    const { world } = this;
    const addr = this.address();
    // A group's members share one server list, as the main workload's do.
    const core = new ReaderCore(
      {
        ...READER_DEFAULTS,
        name,
        topic,
        servers: world.serverList(group === undefined ? this.port : 0),
        nonce: this.port,
        fromKind: FromKind.Earliest,
        delayMs: world.rng.pick(world.opts.readerDelays),
        ...(group !== undefined && { group }),
        unlisted,
        ...world.credentials(name),
      },
      world.now,
    );
    const r: SideReader = { topic, name, addr, core, lastOf: new Map(), lastId: 0, ids: new Set(), ...(group !== undefined && { group }) };
    if (group !== undefined && !this.groupTaken.has(topic)) this.groupTaken.set(topic, new Set());
    world.nodes.set(addressKey(addr), (data, from) => core.handleDatagram(data, from, world.now));
    return r;
  }

  private topicLister(): { core: ReaderCore; addr: Address } {
    const { world } = this;
    const addr = this.address();
    const core = new ReaderCore(
      {
        ...READER_DEFAULTS,
        name: PATTERN_READER,
        servers: world.serverList(this.port),
        nonce: this.port,
        fromKind: FromKind.Latest,
        listTopics: true,
        watchTopicsMs: 1_000,
        ...world.credentials(PATTERN_READER),
      },
      world.now,
    );
    world.nodes.set(addressKey(addr), (data, from) => core.handleDatagram(data, from, world.now));
    return { core, addr };
  }

  private address(): Address {
    const port = this.port++;
    return { address: `10.0.3.${(port % 200) + 1}`, port };
  }
}
