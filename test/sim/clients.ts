import { addressKey } from '../../src/core/address.js';
import type { Message, ReaderCore, ReaderEvent } from '../../src/core/reader/reader-core.js';
import { PacketKind } from '../../src/protocol/constants.js';
import type { WriterMark } from '../../src/protocol/packets.js';
import { checkHealthy, whereIs, type DeliveryChecker } from './checkers.js';
import type { FaultPlan } from './faults.js';
import type { SimReader, SimWorld, SimWriter } from './world.js';

/** A resuming writer's one mark: how many of its lines are behind it. */
const LINE_MARK = Buffer.from('lines');
const OTHER_MARK = Buffer.from('other');
/** Sent ahead of the queue by each run as it starts, as a follower's mark of a file it opens: the run's number. */
const RUN_MARK = Buffer.from('run');
/** Sent ahead now and then mid-run, as a follower's mark of a file it opens while lines are in flight. */
const FILE_MARK = Buffer.from('file');
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const lineMark = (n: number): WriterMark => {
  const value = Buffer.alloc(4);
  value.writeUInt32BE(n);
  return { key: LINE_MARK, value };
};

/**
 * The clients as their users drive them: writers fed in bursts (and paused once), readers printing (at once
 * or through a slow output), `--count` consumers one after the other until the queue is drained, `--once`
 * runs started again until the log is printed; and every event they report, checked as it comes.
 */
export class ClientDriver {
  /** Ids taken by each group's members. */
  readonly groupSeen = new Map<string, Set<number>>([
    ['g', new Set()],
    ['q', new Set()],
  ]);
  queueDrained = false;

  constructor(
    private readonly world: SimWorld,
    private readonly delivery: DeliveryChecker,
    private readonly faults: FaultPlan,
  ) {}

  private readonly paused = new Set<SimWriter>();
  private readonly pauseAt = new Map<SimWriter, number>();

  /**
   * Lines arrive in bursts, as fast as each writer accepts them; once, mid-input, its source goes quiet.
   * A resuming writer is killed now and then while the faults last, and started again a little later.
   */
  feedWriters(): void {
    const { world } = this;
    const { rng, opts } = world;
    for (const w of world.writers) {
      this.pauseAt.set(w, rng.int(1, w.lines.length));
      if (w.ready) world.schedule(world.now + rng.next() * 50, () => this.feed(w, w.run));
      for (let k = 0; k < opts.writerCrashes; k++) world.schedule(world.now + rng.next() * opts.faultsForMs, () => this.killWriter(w));
    }
  }

  private feed(w: SimWriter, run: number): void {
    const { world } = this;
    const { rng, opts } = world;
    if (w.core.finished || w.run !== run) return;
    const burst = rng.int(1, 200);
    for (let i = 0; i < burst && w.submitted < w.lines.length && w.core.acceptingInput; i++) {
      w.core.submitLine(w.lines[w.submitted++]!);
      if (w.resuming) w.core.mark(lineMark(w.submitted));
    }
    // Another mark now and then, as a follower marks a file it opens or lets go: it must not take the
    // place of the last line's own mark.
    if (w.resuming && rng.chance(0.3)) w.core.mark({ key: OTHER_MARK, value: Buffer.from([rng.int(0, 255)]) });
    if (w.resuming && rng.chance(0.3)) {
      w.aheadIssued = ++w.aheadMarks;
      w.core.markAhead({ key: FILE_MARK, value: u32(w.aheadIssued) });
      // The worst moment for the server to crash: lines in flight, and a mark sent ahead of what is queued.
      const sv = world.servers[0]!;
      if (world.servers.length === 1 && world.faulty && !sv.down && w.core.unconfirmedLines > 0 && rng.chance(0.4)) {
        this.faults.crash(sv, world.now + 1, world.now + rng.int(10, 500));
      }
    }
    w.core.flush(world.now);
    if (w.submitted >= w.lines.length) return w.core.endInput(world.now);
    const pause = w.submitted >= this.pauseAt.get(w)! && !this.paused.has(w) ? (this.paused.add(w), opts.writerPauseMs) : 0;
    world.schedule(world.now + pause + rng.next() * 20, () => this.feed(w, run));
  }

  private killWriter(w: SimWriter): void {
    const { world } = this;
    if (w.outcome !== undefined) return;
    world.armed.delete(w.core);
    delete w.aheadIssued; // the next run's own marks sent ahead are what it is held to
    world.restartWriter(w);
    world.writerKills++;
  }

  consumedQ(): number {
    return this.groupSeen.get('q')!.size;
  }

  /** Messages of the queue not taken yet: neither handed to a consumer nor told missed (retention took them). */
  leftInQ(): number {
    const consumers = this.world.consumers;
    const from = this.world.opts.retainMessages > 0 ? Math.min(...consumers.map((c) => c.firstAt ?? Infinity), Infinity) : 1;
    if (from === Infinity) return this.world.total;
    return this.world.total - (from - 1) - this.consumedQ() - this.missedQ();
  }

  /** What the queue's consumers were told retention removed before they could take it. */
  missedQ(): number {
    return this.world.consumers.reduce((n, c) => n + c.missedTold, 0);
  }

  /** The next `--group q` consumer: `--count` a few, or, once all is taken, a last `--once` that must find nothing. */
  nextConsumer(): void {
    const { world } = this;
    const left = this.leftInQ();
    const once = world.consumers.length > 0 && left <= 0;
    // Each takes a few, never more than are left (or it would wait for ever, as it should).
    const count = Math.min(world.rng.int(1, 5), left);
    world.consumers.push(world.newReader(`c${world.consumers.length + 1}`, once ? { group: 'q', once: true } : { group: 'q', count }, 0));
  }

  /** The queue is all taken while a consumer still waits for its count: its user stops it (Ctrl-C). */
  stopWaitingConsumer(): void {
    const { world } = this;
    const c = world.consumers[world.consumers.length - 1];
    if (!c || c.once || c.closed || c.dead || c.stopping || this.leftInQ() > 0) return;
    c.stopping = true;
    c.core.close(world.now);
  }

  /** Sends what the clients put out, and takes their events. */
  pump(): void {
    for (const w of this.world.writers) this.pumpWriter(w);
    for (const r of this.world.allReaders) if (!r.dead) this.pumpReader(r);
  }

  private pumpWriter(w: SimWriter): void {
    const { world } = this;
    for (let t = w.core.pollTransmit(); t; t = w.core.pollTransmit()) world.net.send(world.now, w.addr, t.to, t.data);
    for (let e = w.core.pollEvent(); e; e = w.core.pollEvent()) {
      if (e.type === 'done' || e.type === 'failed' || e.type === 'refused') w.outcome = e.type;
      if (e.type === 'registered' && !w.resuming && !w.ready) w.ready = true;
      if (e.type === 'registered' && e.again && w.aheadIssued !== undefined && w.aheadDue?.value !== w.aheadIssued) {
        w.aheadDue = { value: w.aheadIssued, storedAt: w.base + w.core.confirmedLines };
        // The worst moment to be killed: what was resent is being stored.
        if (world.rng.chance(0.5)) world.schedule(world.now + world.rng.next() * 30, () => this.killWriter(w));
      }
      if (e.type === 'recalled') {
        const mark = e.marks.find((m) => m.key.equals(LINE_MARK));
        const stored = mark ? mark.value.readUInt32BE(0) : 0;
        // The mark sent ahead went in the run's first datagram: a run that stored a line stored it too.
        const ran = e.marks.find((m) => m.key.equals(RUN_MARK))?.value.readUInt32BE(0);
        if (w.recalledRun !== undefined && stored > w.base && ran !== w.recalledRun) {
          world.fail(`${w.name}: run ${w.recalledRun} stored lines, but the mark it sent ahead of them is not stored (${ran})`);
        }
        // Sent ahead mid-run, then registered again: it went before what was resent.
        const file = e.marks.find((m) => m.key.equals(FILE_MARK))?.value.readUInt32BE(0) ?? 0;
        if (w.aheadDue && this.world.servers.length === 1 && stored > w.aheadDue.storedAt && file < w.aheadDue.value) {
          world.fail(`${w.name}: lines past ${w.aheadDue.storedAt} stored after it registered again, but not the mark it sent ahead before (${w.aheadDue.value}; stored ${file})`);
        }
        delete w.aheadDue;
        const run = w.run;
        w.recalledRun = run;
        const ahead = Buffer.alloc(4);
        ahead.writeUInt32BE(run);
        w.core.markAhead({ key: RUN_MARK, value: ahead });
        w.base = w.submitted = stored;
        w.resumedAt = w.base;
        w.ready = true;
        world.schedule(world.now, () => this.feed(w, run));
      }
      if (e.type === 'oversize') world.failures.push(`${w.name}: line ${e.line} refused as oversize`);
      checkHealthy(world, w.name, e);
    }
  }

  private pumpReader(r: SimReader): void {
    const { world } = this;
    const core = r.core;
    for (let t = core.pollTransmit(); t; t = core.pollTransmit()) {
      // The worst moment for a --once run: its server crashes as the run's goodbye is on its way.
      if (r.once && r.group === undefined && (t.data[3]! & 0x7f) === PacketKind.Bye && world.faulty && world.rng.chance(0.3)) {
        const sv = world.servers.find((x) => addressKey(x.addr) === addressKey(t.to));
        if (sv && !sv.down) this.faults.crash(sv, world.now, world.now + world.rng.int(10, 300));
      }
      world.net.send(world.now, r.addr, t.to, t.data);
    }
    for (let e = core.pollEvent(); e; e = core.pollEvent()) this.readerEvent(r, core, e);
  }

  /** Told each answer a watcher gets to TRACK. */
  onTracked: (watcher: SimReader, e: Extract<ReaderEvent, { type: 'tracked' }>) => void = () => {};

  private readerEvent(r: SimReader, core: ReaderCore, e: ReaderEvent): void {
    const { world } = this;
    if (e.type === 'messages') this.print(r, core, e.messages, e.upTo);
    if (e.type === 'tracked') this.onTracked(r, e);
    const missed = e.type === 'missed' ? e.count : e.type === 'registered' ? e.missed : 0;
    if (missed > 0 && world.opts.retainMessages === 0) world.fail(`${r.name}: told of ${missed} missed with nothing removed`);
    r.missedTold += missed;
    if (e.type === 'registered' && r.firstAt === undefined) r.firstAt = e.position - e.missed;
    // A member's leave is certain only for its first session, closed by GOODBYE (not 'unknown session').
    if (e.type === 'registered') r.crashesAtSignOn = e.again ? -1 : world.crashes;
    if (e.type === 'failover' || (e.type === 'closed' && e.sessionLost)) r.crashesAtSignOn = -1;
    if (e.type === 'registry' && r.view) r.view = new Map(e.entries.map((x) => [`${x.role}:${x.name}`, whereIs(x)]));
    if (e.type === 'presence' && r.view) for (const x of e.changes) r.view.set(`${x.role}:${x.name}`, whereIs(x));
    // Registered again: the server had lost its session (expired while cut off), and what it held with it.
    // So did a member that moved to another server (a group is coordinated by its server: docs/SCALING.md).
    if (((e.type === 'registered' && e.again) || e.type === 'failover') && r.group !== undefined) world.lostMember.add(r.group);
    if (e.type === 'refused') world.failures.push(`${r.name} refused: ${e.reason}`);
    checkHealthy(world, r.name, e);
    if (e.type === 'closed' && !r.closed) this.readerClosed(r, e);
  }

  private readerClosed(r: SimReader, e: Extract<ReaderEvent, { type: 'closed' }>): void {
    const { world } = this;
    r.closed = true;
    r.crashesAtClose = world.crashes;
    // No answer to its BYE: to the server it is a member that died (what it held comes back later).
    if (e.unconfirmed) r.dead = true;
    if (r.group === undefined && r.once && !r.dead && r.seen.size < world.total) {
      // The next run, a little later, from the same host. A run whose goodbye was not confirmed may
      // not have had its place kept: the next one may print some of it again.
      if (e.unconfirmed || e.sessionLost) r.restarted = true;
      world.schedule(world.now + world.rng.int(1, 300), () => {
        const next = world.newReader(r.name, { once: true }, 0, r.addr.address);
        Object.assign(r, { addr: next.addr, core: next.core, closed: false });
      });
    }
    const c = world.consumers[world.consumers.length - 1];
    if (c === r && r.once) {
      if (r.delivered.length > 0 && !world.killed('q')) world.fail(`${r.name}: the drained queue handed out ${r.delivered.map((m) => m.id).join(',')} again`);
      this.queueDrained = true;
    } else if (c === r) this.nextConsumer();
  }

  /** Hands messages on as printed: at once, or (slow output) a little later; a killed reader prints nothing more. */
  private print(r: SimReader, core: ReaderCore, messages: Message[], upTo: number): void {
    const { world } = this;
    const done = (): void => {
      if (r.dead || r.core !== core) return;
      this.delivery.check(r, messages);
      r.delivered.push(...messages);
      for (const m of messages) {
        r.seen.add(m.id);
        if (r.group !== undefined) this.groupSeen.get(r.group)!.add(m.id);
      }
      if (world.opts.slowOutput) core.printed(upTo, world.now);
    };
    if (!world.opts.slowOutput) return done();
    r.printAt = Math.max(r.printAt, world.now) + world.rng.next() * 3;
    world.schedule(r.printAt, done);
  }
}
