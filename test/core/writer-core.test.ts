import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WRITER_DEFAULTS, WriterCore, type WriterEvent } from '../../src/core/writer/writer-core.js';
import { encode } from '../../src/protocol/codec.js';
import type { Data, HelloWriter, WriterMark } from '../../src/protocol/packets.js';
import { drain, SERVER, T0 } from './helpers.js';

const newWriter = (over: Partial<typeof WRITER_DEFAULTS> = {}) =>
  new WriterCore({ ...WRITER_DEFAULTS, name: 'w', servers: [SERVER], producerId: 5n, nonce: 1, ...over }, T0);

const welcome = (w: WriterCore, now: number, resume = 1, maxMessageBytes = 1 << 20, nonce = 1) =>
  w.handleDatagram(
    encode({ kind: 'welcome', nonce, sessionId: 77n, maxMessageBytes, maxDatagramBytes: 1200, heartbeatMs: 5000, resume, missed: 0 }),
    SERVER,
    now,
  );

const events = (w: WriterCore): WriterEvent[] => {
  const out: WriterEvent[] = [];
  for (let e = w.pollEvent(); e; e = w.pollEvent()) out.push(e);
  return out;
};

/** `n` lines of 1,000 bytes, each flushed at once: one datagram each. */
const datagramEach = (w: WriterCore, n: number, at = T0): void => {
  for (let i = 0; i < n; i++) {
    w.submitLine(Buffer.alloc(1000, 97 + (i % 20)));
    w.flush(at);
  }
};

const ack = (w: WriterCore, received: number, committed: number, now: number, sacks: { first: number; last: number }[] = []) =>
  w.handleDatagram(encode({ kind: 'ack', sessionId: 77n, received, committed, sacks }), SERVER, now);

test('says hello, and retries it until welcomed', () => {
  const w = newWriter();
  assert.equal(drain(w)[0]!.packet.kind, 'hello');
  const d = w.nextDeadline()!;
  w.handleTimeout(d);
  assert.equal(drain(w)[0]!.packet.kind, 'hello');
  welcome(w, d + 1);
  assert.deepEqual(events(w), [{ type: 'registered', again: false }]);
});

test('packs many short lines into one datagram', () => {
  const w = newWriter();
  drain(w);
  welcome(w, T0);
  for (let i = 0; i < 100; i++) w.submitLine(Buffer.from(`line ${i}`));
  w.flush(T0);
  const sent = drain(w);
  assert.equal(sent.length, 1);
  assert.equal((sent[0]!.packet as Data).entries.length, 100);
  assert.ok(sent[0]!.data.length <= 1200);
});

test('keeps at most a window of datagrams in flight, and moves on as they are acknowledged', () => {
  const w = newWriter({ windowInitial: 4 });
  drain(w);
  welcome(w, T0);
  for (let i = 0; i < 400; i++) w.submitLine(Buffer.alloc(500, 97));
  w.flush(T0);
  assert.equal(drain(w).length, 4);
  ack(w, 2, 2, T0 + 1);
  const next = drain(w).map((t) => (t.packet as Data).seq);
  assert.ok(next.length >= 2, 'acknowledging two opens the window by at least two');
  assert.equal(next[0], 5);
  assert.equal(w.confirmedLines, 4);
});

test('retransmits an unacknowledged datagram after the timeout, and backs off', () => {
  const w = newWriter();
  drain(w);
  welcome(w, T0);
  w.submitLine(Buffer.from('x'));
  w.flush(T0);
  drain(w);
  const first = w.nextDeadline()!;
  w.handleTimeout(first);
  const again = drain(w);
  assert.equal(again.length, 1);
  assert.equal((again[0]!.packet as Data).seq, 1);
  const second = w.nextDeadline()!;
  assert.ok(second - first > first - T0, 'the next timeout is longer');
});

test('ends: waits for every confirmation, signs off, and is done', () => {
  const w = newWriter();
  drain(w);
  welcome(w, T0);
  w.submitLine(Buffer.from('a'));
  w.endInput(T0);
  drain(w);
  ack(w, 1, 0, T0 + 1);
  assert.equal(drain(w).length, 0, 'received but not committed: no goodbye yet');
  ack(w, 1, 1, T0 + 2);
  const bye = drain(w);
  assert.equal(bye[0]!.packet.kind, 'bye');
  w.handleDatagram(encode({ kind: 'goodbye', sessionId: 77n }), SERVER, T0 + 3);
  assert.deepEqual(events(w).map((e) => e.type), ['registered', 'done']);
});

test('fails after the timeout with the number of unconfirmed lines', () => {
  const w = newWriter({ timeoutMs: 2000 });
  drain(w);
  welcome(w, T0);
  w.submitLine(Buffer.from('a'));
  w.submitLine(Buffer.from('b'));
  w.flush(T0);
  let now = T0;
  while (!w.finished) {
    now = w.nextDeadline()!;
    w.handleTimeout(now);
  }
  assert.ok(now - T0 >= 2000 && now - T0 < 2100);
  const last = events(w).pop();
  assert.deepEqual(last, { type: 'failed', unconfirmed: 2 });
});

test('a line over the server limit is reported with its number and not sent', () => {
  const w = newWriter();
  drain(w);
  welcome(w, T0, 1, 10);
  w.submitLine(Buffer.from('short'));
  w.submitLine(Buffer.alloc(11));
  w.submitLine(Buffer.from('fine'));
  w.flush(T0);
  const ev = events(w).filter((e) => e.type === 'oversize');
  assert.deepEqual(ev, [{ type: 'oversize', line: 2, bytes: 11, limit: 10 }]);
  assert.equal((drain(w)[0]!.packet as Data).entries.length, 2);
});

test('a line longer than a datagram goes in fragments, the first one alone', () => {
  const w = newWriter();
  drain(w);
  welcome(w, T0);
  w.submitLine(Buffer.from('before'));
  w.submitLine(Buffer.alloc(3000, 98));
  w.submitLine(Buffer.from('after'));
  w.flush(T0);
  const sent = drain(w).map((t) => (t.packet as Data).entries);
  assert.equal(sent[0]!.length, 1, 'the short line goes alone, the long one starts fresh');
  assert.deepEqual(sent[1]!.map((e) => [e.more, e.continued]), [[true, false]]);
  const last = sent[sent.length - 1]!;
  assert.deepEqual([last[0]!.more, last[0]!.continued], [false, true]);
  assert.equal(last[1]!.text.toString(), 'after');
  const total = sent.slice(1).flat().filter((e) => e.more || e.continued).reduce((n, e) => n + e.text.length, 0);
  assert.equal(total, 3000);
});

test('after the server forgets the session, registers again and resends what was not committed', () => {
  const w = newWriter();
  drain(w);
  welcome(w, T0);
  datagramEach(w, 3);
  drain(w);
  ack(w, 3, 1, T0 + 1);
  w.handleDatagram(encode({ kind: 'unknown-session', sessionId: 77n }), SERVER, T0 + 2);
  const hello = drain(w)[0]!.packet;
  assert.equal(hello.kind, 'hello');
  assert.equal(hello.kind === 'hello' && hello.role === 1 && hello.nextSeq, 2);
  assert.notEqual(hello.kind === 'hello' && hello.nonce, 1, 'a new registration has a new nonce');
  welcome(w, T0 + 3, 3, 1 << 20, hello.kind === 'hello' ? hello.nonce : 0); // the server had committed seq 2 after all
  const resent = drain(w).map((t) => (t.packet as Data).seq);
  assert.deepEqual(resent, [3]);
});

test('told it is over the message rate: says so once, pauses, then sends again what was dropped', () => {
  const w = newWriter();
  drain(w);
  welcome(w, T0);
  for (let i = 0; i < 4; i++) w.submitLine(Buffer.from(`line ${i}`.repeat(200)));
  w.flush(T0);
  const first = drain(w).map((t) => (t.packet as Data).seq);
  assert.ok(first.length >= 2);
  w.handleDatagram(encode({ kind: 'throttle', sessionId: 77n, limit: 10, retryAfterMs: 300 }), SERVER, T0 + 1);
  w.handleDatagram(encode({ kind: 'throttle', sessionId: 77n, limit: 10, retryAfterMs: 300 }), SERVER, T0 + 2);
  const events: WriterEvent[] = [];
  for (let e = w.pollEvent(); e; e = w.pollEvent()) events.push(e);
  assert.deepEqual(events.filter((e) => e.type === 'throttled'), [{ type: 'throttled', limit: 10 }]);
  w.handleTimeout(T0 + 100);
  assert.deepEqual(drain(w), [], 'quiet during the pause');
  assert.equal(w.nextDeadline(), T0 + 302);
  w.handleTimeout(T0 + 302);
  assert.deepEqual(drain(w).map((t) => (t.packet as Data).seq).slice(0, first.length), first, 'the dropped datagrams again, in order');
});

test('a server that stops answering is left for the next in the list: registered there, the writer resends what is unconfirmed', () => {
  const b = { address: '127.0.0.1', port: SERVER.port + 1 };
  const w = new WriterCore({ ...WRITER_DEFAULTS, name: 'w', servers: [SERVER, b], producerId: 5n, nonce: 1 }, T0);
  drain(w);
  welcome(w, T0);
  datagramEach(w, 3);
  assert.ok(drain(w).every((t) => t.to === SERVER));
  ack(w, 3, 1, T0 + 1);
  events(w);
  // Silence from the server while lines wait: at lostAfterMs the writer moves on.
  w.handleTimeout(T0 + 1 + WRITER_DEFAULTS.lostAfterMs - 1);
  assert.ok(!events(w).some((e) => e.type === 'failover'));
  w.handleTimeout(T0 + 1 + WRITER_DEFAULTS.lostAfterMs);
  assert.deepEqual(events(w).find((e) => e.type === 'failover'), { type: 'failover', from: SERVER, to: b });
  const [hello] = drain(w).filter((t) => t.packet.kind === 'hello');
  assert.equal(hello!.to, b);
  assert.ok(hello!.packet.kind === 'hello' && hello!.packet.role === 1);
  const h = hello!.packet as HelloWriter;
  assert.deepEqual([h.producerId, h.nextSeq], [5n, 2], 'the same writer, from its first unconfirmed datagram');
  // The old server's late answers are not taken.
  ack(w, 3, 3, T0 + 2_100);
  assert.equal(w.confirmedLines, 1);
  // The new server had the second datagram already (its store said so): only the third goes again.
  w.handleDatagram(
    encode({ kind: 'welcome', nonce: h.nonce, sessionId: 88n, maxMessageBytes: 1 << 20, maxDatagramBytes: 1200, heartbeatMs: 5000, resume: 3, missed: 0 }),
    b,
    T0 + 2_200,
  );
  const resent = drain(w);
  assert.deepEqual(resent.map((t) => [(t.packet as Data).seq, t.to]), [[3, b]]);
  assert.equal(w.confirmedLines, 2);
  // The next server was never away: its answer is not news of a server coming back.
  assert.deepEqual(events(w).map((e) => e.type), ['registered']);
});

test('with one server there is nowhere to go: the writer says the server is lost, once, and keeps trying it', () => {
  const w = newWriter();
  drain(w);
  w.handleTimeout(T0 + WRITER_DEFAULTS.lostAfterMs);
  w.handleTimeout(T0 + 2 * WRITER_DEFAULTS.lostAfterMs);
  assert.deepEqual(events(w).map((e) => e.type), ['server-lost']);
  assert.ok(drain(w).every((t) => t.to === SERVER && t.packet.kind === 'hello'));
});

test("answers the server's PING (is this client still running?) with a PONG, and owes nothing for it", () => {
  const w = newWriter();
  drain(w);
  welcome(w, T0);
  events(w);
  w.handleDatagram(encode({ kind: 'ping', sessionId: 77n }), SERVER, T0 + 10);
  assert.deepEqual(drain(w).map((t) => t.packet), [{ kind: 'pong', sessionId: 77n }]);
  w.handleDatagram(encode({ kind: 'ping', sessionId: 78n }), SERVER, T0 + 20);
  assert.deepEqual(drain(w), [], 'not for another session');
  // Idle after that: a heartbeat at its time, and the server is not called lost for the PONG going unanswered.
  for (let t = T0 + 100; t < T0 + 4_000; t += 100) w.handleTimeout(t);
  assert.deepEqual(events(w), []);
});

test('keeps retransmitting an unacknowledged datagram, not just once, until it is acknowledged', () => {
  const w = newWriter({ timeoutMs: 600_000 });
  drain(w);
  welcome(w, T0);
  w.submitLine(Buffer.from('x'));
  w.flush(T0);
  drain(w);
  const times: number[] = [];
  let t = T0;
  while (times.length < 6 && t < T0 + 120_000) {
    t = w.nextDeadline()!;
    w.handleTimeout(t);
    for (const s of drain(w)) if (s.packet.kind === 'data' && s.packet.seq === 1) times.push(t);
  }
  assert.equal(times.length, 6, `sent again at ${times.map((x) => x - T0).join(', ')} ms`);
  ack(w, 1, 1, t + 1);
  assert.equal(w.confirmedLines, 1);
  const after = w.nextDeadline();
  if (after !== undefined) w.handleTimeout(after);
  assert.ok(!drain(w).some((s) => s.packet.kind === 'data'), 'nothing sent again once acknowledged');
});

test('a server that has the lines and cannot store them yet: said once, with why; its end said once all is stored; giving up says why', () => {
  const w = newWriter({ timeoutMs: 5_000 });
  drain(w);
  welcome(w, T0);
  datagramEach(w, 2);
  drain(w);
  const stalled = (now: number, sessionId = 77n) =>
    w.handleDatagram(encode({ kind: 'stalled', sessionId, retryAfterMs: 500, reason: 'disk full' }), SERVER, now);
  stalled(T0 + 1, 78n);
  assert.deepEqual(events(w).map((e) => e.type), ['registered'], 'another session’s stall is not ours');
  ack(w, 2, 0, T0 + 1);
  stalled(T0 + 2);
  assert.deepEqual(events(w), [{ type: 'stalled', reason: 'disk full' }], 'said at the first');
  stalled(T0 + 600);
  assert.deepEqual(events(w), [], 'and only then');
  ack(w, 2, 1, T0 + 700);
  assert.deepEqual(events(w), [], 'one of two stored: still stalled');
  ack(w, 2, 2, T0 + 800);
  assert.deepEqual(events(w), [{ type: 'stall-over' }]);
  assert.equal(w.confirmedLines, 2);

  // Another writer whose server never gets its store back: its failure names the reason.
  const v = newWriter({ timeoutMs: 2_000 });
  drain(v);
  welcome(v, T0);
  v.submitLine(Buffer.from('x'));
  v.flush(T0);
  v.handleDatagram(encode({ kind: 'stalled', sessionId: 77n, retryAfterMs: 500, reason: 'disk full' }), SERVER, T0 + 1);
  while (!v.finished) v.handleTimeout(v.nextDeadline()!);
  assert.deepEqual(events(v).pop(), { type: 'failed', unconfirmed: 1, reason: 'disk full' });
});

test('refused for good: says why and stops; refused for now (too many handshakes): says so once and tries again later', () => {
  const w = newWriter();
  drain(w);
  w.handleDatagram(encode({ kind: 'refuse', nonce: 2, code: 2, reason: 'not ours' }), SERVER, T0 + 1);
  assert.deepEqual(events(w), [], 'a refusal of another HELLO');
  w.handleDatagram(encode({ kind: 'refuse', nonce: 1, code: 7, reason: 'slow down' }), SERVER, T0 + 1);
  w.handleDatagram(encode({ kind: 'refuse', nonce: 1, code: 7, reason: 'slow down' }), SERVER, T0 + 2);
  assert.deepEqual(events(w), [{ type: 'rate-limited', reason: 'slow down' }]);
  assert.equal(w.finished, false);
  w.handleTimeout(w.nextDeadline()!);
  assert.equal(drain(w)[0]!.packet.kind, 'hello', 'and says HELLO again');
  w.handleDatagram(encode({ kind: 'refuse', nonce: 1, code: 2, reason: 'name taken' }), SERVER, T0 + 3);
  assert.deepEqual(events(w), [{ type: 'refused', code: 2, reason: 'name taken', byServer: true }]);
  assert.equal(w.finished, true);
  assert.equal(w.nextDeadline(), undefined);
  w.handleTimeout(T0 + 60_000);
  assert.deepEqual(drain(w), [], 'silent after');
});

test('selectively acknowledged datagrams are not sent again; one three behind a received one is sent again at once', () => {
  const w = newWriter({ windowInitial: 8 });
  drain(w);
  welcome(w, T0);
  datagramEach(w, 6);
  assert.deepEqual(drain(w).map((t) => (t.packet as Data).seq), [1, 2, 3, 4, 5, 6]);
  // 1 arrived; 5 and 6 too; 2, 3 and 4 did not.
  w.handleDatagram(encode({ kind: 'ack', sessionId: 77n, received: 1, committed: 1, sacks: [{ first: 5, last: 6 }] }), SERVER, T0 + 300);
  assert.deepEqual(drain(w).map((t) => (t.packet as Data).seq), [2, 3], '2 and 3 are three or more behind 6: lost; 4 may only be late');
  // Then 3 arrives after all, and 4.
  w.handleDatagram(encode({ kind: 'ack', sessionId: 77n, received: 1, committed: 1, sacks: [{ first: 3, last: 6 }] }), SERVER, T0 + 301);
  const rto = w.nextDeadline()!;
  w.handleTimeout(rto);
  assert.deepEqual(drain(w).map((t) => (t.packet as Data).seq), [2], 'on the timeout, only what did not arrive');
  w.handleDatagram(encode({ kind: 'ack', sessionId: 77n, received: 6, committed: 6, sacks: [] }), SERVER, rto + 1);
  assert.equal(w.confirmedLines, 6);
});

test('a line exactly at the limit goes; lines over it, cut from a chunk or dropped while read, are each reported with their number', () => {
  const w = newWriter();
  drain(w);
  welcome(w, T0, 1, 10);
  const chunk = Buffer.from('0123456789|01234567890|ok');
  w.submitSlice(chunk, 0, 10);
  w.submitSlice(chunk, 11, 22);
  w.rejectLine(5_000);
  w.submitSlice(chunk, 23, 25, 'bob');
  w.flush(T0);
  assert.deepEqual(events(w).filter((e) => e.type === 'oversize'), [
    { type: 'oversize', line: 2, bytes: 11, limit: 10 },
    { type: 'oversize', line: 3, bytes: 5_000, limit: 10 },
  ]);
  const entries = (drain(w)[0]!.packet as Data).entries;
  assert.deepEqual(entries.map((e) => [e.text.toString(), e.to]), [['0123456789', undefined], ['ok', 'bob']]);
});

/** The sequence numbers of the DATA it sent. */
const seqs = (w: WriterCore): number[] => drain(w).flatMap((t) => (t.packet.kind === 'data' ? [t.packet.seq] : []));

test('the window: +1 per datagram received below the threshold, +1/window above it; a timeout quarters it and halves the threshold', () => {
  const w = newWriter({ windowInitial: 6, windowMax: 64, timeoutMs: 600_000 });
  drain(w);
  welcome(w, T0);
  datagramEach(w, 100);
  assert.deepEqual(seqs(w), [1, 2, 3, 4, 5, 6]);
  ack(w, 6, 6, T0 + 10);
  assert.equal(w.window, 12, 'slow start: one more per datagram received');
  assert.equal(seqs(w).length, 12);
  w.handleTimeout(w.nextDeadline()!);
  assert.equal(w.window, 3, 'a timeout: a quarter (at least 2); the threshold is half, 6');
  assert.deepEqual(seqs(w), [7, 8, 9], 'the oldest first, as far as the window allows');
  ack(w, 18, 18, T0 + 2_000);
  // 12 received: +1 three times up to the threshold of 6, then 9 times +1/window: 7.36.
  assert.equal(w.window, 7);
});

test('a loss seen by selective acknowledgements halves the window once per window of data, not per loss', () => {
  const w = newWriter({ windowInitial: 16, windowMax: 512, timeoutMs: 600_000 });
  drain(w);
  welcome(w, T0);
  datagramEach(w, 100);
  assert.equal(seqs(w).length, 16);
  // 5..16 arrived, 1..4 did not: 12 received (16 + 12 = 28), then halved: 14.
  const sack = (now: number) => w.handleDatagram(encode({ kind: 'ack', sessionId: 77n, received: 0, committed: 0, sacks: [{ first: 5, last: 16 }] }), SERVER, now);
  sack(T0 + 1_000);
  assert.equal(w.window, 14);
  assert.deepEqual(seqs(w), [1, 2, 3, 4, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]);
  // 1..4 lost again, within the same window of data: not halved again.
  sack(T0 + 3_000);
  assert.equal(w.window, 14);
  assert.deepEqual(seqs(w), [1, 2, 3, 4]);
});

test('the window never grows past its maximum', () => {
  const w = newWriter({ windowInitial: 4, windowMax: 6 });
  drain(w);
  welcome(w, T0);
  datagramEach(w, 40);
  let acked = 0;
  for (let i = 0; i < 6; i++) {
    acked += seqs(w).length;
    ack(w, acked, acked, T0 + 10 + i);
    assert.ok(w.window <= 6, `window ${w.window}`);
  }
  assert.equal(w.window, 6);
  assert.equal(seqs(w).length, 6);
});

test('a server that already holds this writer up to some sequence: new datagrams continue after it', () => {
  const w = newWriter();
  drain(w);
  welcome(w, T0, 50);
  datagramEach(w, 2);
  assert.deepEqual(seqs(w), [50, 51]);
  // Registered again lower (another server): what is numbered already keeps its numbers.
  w.handleDatagram(encode({ kind: 'unknown-session', sessionId: 77n }), SERVER, T0 + 1);
  const hello = drain(w)[0]!.packet;
  welcome(w, T0 + 2, 1, 1 << 20, hello.kind === 'hello' ? hello.nonce : 0);
  assert.deepEqual(seqs(w), [50, 51]);
  assert.deepEqual(events(w).map((e) => e.type === 'registered' && e.again), [false, true]);
});

test('nothing is sent before the WELCOME, and every datagram fits the size the server gave, filled', () => {
  const w = newWriter();
  drain(w);
  for (let i = 0; i < 3000; i++) w.submitLine(Buffer.alloc(i % 3, 97));
  w.flush(T0);
  assert.deepEqual(seqs(w), [], 'not before registering');
  welcome(w, T0 + 1);
  const sent = drain(w).filter((t) => t.packet.kind === 'data');
  assert.ok(sent.length >= 5, `${sent.length} datagrams`);
  for (const t of sent.slice(0, -1)) assert.ok(t.data.length <= 1200 && t.data.length > 1190, `${t.data.length} bytes`);
});

test('unconfirmed datagrams are kept up to a bound, whatever the window', () => {
  const w = newWriter({ windowInitial: 8, unconfirmedMax: 3 });
  drain(w);
  welcome(w, T0);
  datagramEach(w, 10);
  assert.deepEqual(seqs(w), [1, 2, 3]);
  ack(w, 3, 1, T0 + 1);
  assert.deepEqual(seqs(w), [4], 'one confirmed: room for one more');
  assert.equal(w.unconfirmedLines, 9);
  assert.equal(w.confirmedLines, 1);
});

test('throttled: nothing goes during the pause, even when acknowledgements open the window; what arrived is not sent again', () => {
  const w = newWriter({ windowInitial: 6 });
  drain(w);
  welcome(w, T0);
  datagramEach(w, 12);
  assert.deepEqual(seqs(w), [1, 2, 3, 4, 5, 6]);
  ack(w, 3, 0, T0 + 1); // 1..3 arrived, not yet stored
  drain(w);
  w.handleDatagram(encode({ kind: 'throttle', sessionId: 77n, limit: 10, retryAfterMs: 300 }), SERVER, T0 + 2);
  ack(w, 1, 1, T0 + 3); // 1 stored: the window opens, 2 and 3 still wait to be stored
  assert.deepEqual(seqs(w), [], 'held');
  w.handleTimeout(T0 + 302);
  const again = seqs(w);
  assert.deepEqual(again.slice(0, 3), [4, 5, 6], 'the dropped ones, not those that arrived');
  assert.deepEqual(again, [...new Set(again)], 'each once: no retransmission timer left over from the pause');
});

test('--timeout: counts from when lines start to wait, not from an idle spell before; a server that only answers PINGs does not stop it', () => {
  const w = newWriter({ timeoutMs: 2_000 });
  drain(w);
  welcome(w, T0);
  // Idle for 10 s (heartbeats answered), then a line.
  let now = T0;
  while (now < T0 + 10_000) {
    now = w.nextDeadline()!;
    w.handleTimeout(now);
    for (const t of drain(w)) if (t.packet.kind === 'ping') w.handleDatagram(encode({ kind: 'pong', sessionId: 77n }), SERVER, now + 1);
  }
  const start = now + 5;
  w.submitLine(Buffer.from('late'));
  w.flush(start);
  drain(w);
  // Another line while the first waits: the clock still runs from the first.
  w.submitLine(Buffer.from('later'));
  w.flush(start + 1_500);
  drain(w);
  let end = start;
  while (!w.finished && end < start + 10_000) {
    end = w.nextDeadline()!;
    w.handleTimeout(end);
    for (const t of drain(w)) if (t.packet.kind !== 'data') w.handleDatagram(encode({ kind: 'pong', sessionId: 77n }), SERVER, end + 1);
    // The server answers, but never acknowledges the line.
    w.handleDatagram(encode({ kind: 'pong', sessionId: 77n }), SERVER, end + 1);
  }
  assert.equal(end - start, 2_000);
  assert.deepEqual(events(w).at(-1), { type: 'failed', unconfirmed: 2 });
  w.handleTimeout(end + 60_000);
  assert.deepEqual(drain(w), [], 'failed: nothing more is sent');
  assert.equal(w.nextDeadline(), undefined);
});

test('all received, not yet stored, and the acknowledgement saying so lost: the first datagram probes, the window stays', () => {
  const w = newWriter({ windowInitial: 4 });
  drain(w);
  welcome(w, T0);
  datagramEach(w, 2);
  drain(w);
  ack(w, 2, 0, T0 + 1);
  const window = w.window;
  w.handleTimeout(w.nextDeadline()!);
  assert.deepEqual(seqs(w), [1]);
  assert.equal(w.window, window);
});

test('a selective acknowledgement with nothing lost does not shrink the window', () => {
  const w = newWriter({ windowInitial: 8 });
  drain(w);
  welcome(w, T0);
  datagramEach(w, 4);
  drain(w);
  w.handleDatagram(encode({ kind: 'ack', sessionId: 77n, received: 0, committed: 0, sacks: [{ first: 2, last: 3 }] }), SERVER, T0 + 1);
  assert.equal(w.window, 10, 'grown by the two received');
});

test('throttled with everything arrived but not yet stored: after the pause, a lost acknowledgement is still probed for', () => {
  const w = newWriter({ windowInitial: 4, timeoutMs: 600_000 });
  drain(w);
  welcome(w, T0);
  datagramEach(w, 2);
  drain(w);
  ack(w, 2, 0, T0 + 1);
  w.handleDatagram(encode({ kind: 'throttle', sessionId: 77n, limit: 10, retryAfterMs: 300 }), SERVER, T0 + 2);
  w.handleTimeout(T0 + 302);
  assert.deepEqual(seqs(w), [], 'nothing to send again');
  const probe = w.nextDeadline()!;
  assert.ok(probe > T0 + 302 && probe <= T0 + 302 + 2_000, `+${probe - T0} ms`);
  w.handleTimeout(probe);
  assert.deepEqual(seqs(w), [1]);
});

test('a THROTTLE with nothing in flight only pauses', () => {
  const w = newWriter();
  drain(w);
  welcome(w, T0);
  w.handleDatagram(encode({ kind: 'throttle', sessionId: 77n, limit: 10, retryAfterMs: 300 }), SERVER, T0 + 1);
  datagramEach(w, 1);
  assert.deepEqual(seqs(w), []);
  w.handleTimeout(T0 + 301);
  assert.deepEqual(seqs(w), [1]);
});

test('a server that never answers: lines read are given up after --timeout, as unconfirmed', () => {
  const w = newWriter({ timeoutMs: 2_000 });
  datagramEach(w, 3);
  let now = T0;
  while (!w.finished && now < T0 + 10_000) {
    now = w.nextDeadline()!;
    w.handleTimeout(now);
  }
  assert.equal(now, T0 + 2_000);
  assert.deepEqual(events(w).at(-1), { type: 'failed', unconfirmed: 3 });
});

test('input that ends before the WELCOME, with nothing in it: the BYE waits for the session', () => {
  const w = newWriter();
  drain(w);
  w.endInput(T0 + 1);
  assert.deepEqual(drain(w), []);
  welcome(w, T0 + 2);
  assert.deepEqual(drain(w).map((t) => t.packet), [{ kind: 'bye', sessionId: 77n, position: 0 }]);
});


test("an ACK naming another session confirms nothing, nor does one while signing on again", () => {
  const w = newWriter();
  drain(w);
  welcome(w, T0);
  datagramEach(w, 3);
  drain(w);
  w.handleDatagram(encode({ kind: 'ack', sessionId: 78n, received: 3, committed: 3, sacks: [] }), SERVER, T0 + 10);
  assert.equal(w.unconfirmedLines, 3, 'another session');
  w.handleDatagram(encode({ kind: 'unknown-session', sessionId: 77n }), SERVER, T0 + 20);
  drain(w);
  ack(w, 3, 3, T0 + 30);
  assert.equal(w.unconfirmedLines, 3, 'while signing on again');
  assert.deepEqual(drain(w), [], 'and nothing sent for it');
});

test('THROTTLE and STALLED that come while signing on again are not taken: the new session sends at once', () => {
  const w = newWriter();
  drain(w);
  welcome(w, T0);
  datagramEach(w, 2);
  drain(w);
  events(w);
  w.handleDatagram(encode({ kind: 'unknown-session', sessionId: 77n }), SERVER, T0 + 10);
  const hello = drain(w).map((t) => t.packet).find((p) => p.kind === 'hello') as HelloWriter;
  w.handleDatagram(encode({ kind: 'throttle', sessionId: 77n, limit: 1, retryAfterMs: 5_000 }), SERVER, T0 + 11);
  w.handleDatagram(encode({ kind: 'stalled', sessionId: 77n, retryAfterMs: 1_000, reason: 'disk full' }), SERVER, T0 + 12);
  assert.deepEqual(events(w), []);
  welcome(w, T0 + 20, 1, 1 << 20, hello.nonce);
  assert.deepEqual(seqs(w), [1, 2], 'sent again at once');
});

test('told its session is unknown while closing (the server restarted after storing everything): it is done', () => {
  const w = newWriter();
  drain(w);
  welcome(w, T0);
  datagramEach(w, 1);
  ack(w, 1, 1, T0 + 5);
  w.endInput(T0 + 6);
  assert.ok(drain(w).some((t) => t.packet.kind === 'bye'));
  events(w);
  w.handleDatagram(encode({ kind: 'unknown-session', sessionId: 77n }), SERVER, T0 + 7);
  assert.deepEqual(events(w), [{ type: 'done' }]);
  assert.equal(w.finished, true);
  assert.deepEqual(drain(w), [], 'no HELLO again');
});

test('a writer that gave up (--timeout) sends nothing more and has no deadline', () => {
  const w = newWriter({ timeoutMs: 1_000 });
  drain(w);
  welcome(w, T0);
  datagramEach(w, 1);
  let now = T0;
  while (!w.finished && now < T0 + 5_000) {
    now = w.nextDeadline()!;
    w.handleTimeout(now);
  }
  assert.equal(events(w).at(-1)?.type, 'failed');
  drain(w);
  assert.equal(w.nextDeadline(), undefined);
  for (const t of [now + 1, now + 5_000, now + 60_000]) w.handleTimeout(t);
  assert.deepEqual(drain(w), []);
  assert.deepEqual(events(w), [], 'nor says anything more');
  w.handleDatagram(encode({ kind: 'unknown-session', sessionId: 77n }), SERVER, now + 60_001);
  assert.deepEqual(drain(w), [], 'told its session is unknown: it does not sign on again');
});

test('everything confirmed: no retransmission timer is left, and the window is not cut later', () => {
  for (const throttled of [false, true]) {
    const w = newWriter({ windowInitial: 8 });
    drain(w);
    welcome(w, T0);
    datagramEach(w, 3);
    drain(w);
    if (throttled) w.handleDatagram(encode({ kind: 'throttle', sessionId: 77n, limit: 10, retryAfterMs: 300 }), SERVER, T0 + 1);
    ack(w, 3, 3, T0 + 10);
    const window = w.window;
    for (let now = T0 + 10; now < T0 + 3_000; now += 50) w.handleTimeout(now);
    assert.equal(w.window, window, throttled ? 'throttled' : 'not throttled');
    assert.deepEqual(drain(w).map((t) => t.packet.kind).filter((k) => k !== 'ping'), [], 'nothing probed');
  }
});

test('after an acknowledgement, what is still in flight is sent again only a retransmission timeout later', () => {
  const w = newWriter({ windowInitial: 8 });
  drain(w);
  welcome(w, T0);
  datagramEach(w, 3);
  drain(w);
  ack(w, 1, 1, T0 + 10);
  const rto = w.rtoMs;
  w.handleTimeout(T0 + 11);
  assert.deepEqual(seqs(w), [], 'not at once');
  assert.ok(w.nextDeadline()! >= T0 + 10 + rto, `deadline +${w.nextDeadline()! - T0}, RTO ${rto}`);
});

test('a retransmitted datagram gives no round-trip sample (Karn); of those sent once, the newest acknowledged does', () => {
  // Sent at T0 and T0 + 50, both acknowledged at T0 + 60: the sample is 10 ms, not 60.
  const w = newWriter({ windowInitial: 8 });
  drain(w);
  welcome(w, T0);
  w.submitLine(Buffer.alloc(1000, 97));
  w.flush(T0);
  w.submitLine(Buffer.alloc(1000, 98));
  w.flush(T0 + 50);
  drain(w);
  ack(w, 2, 2, T0 + 60);
  const fresh = newWriter();
  drain(fresh);
  welcome(fresh, T0);
  datagramEach(fresh, 1);
  ack(fresh, 1, 1, T0 + 10);
  assert.equal(w.rtoMs, fresh.rtoMs, 'as from one sample of 10 ms');

  const again = newWriter({ windowInitial: 8 });
  drain(again);
  welcome(again, T0);
  datagramEach(again, 1);
  drain(again);
  const rto = again.rtoMs;
  again.handleTimeout(T0 + rto); // lost: sent again, and the timeout doubled
  assert.deepEqual(seqs(again), [1]);
  const backedOff = again.rtoMs;
  assert.ok(backedOff > rto);
  ack(again, 1, 1, T0 + rto + 5);
  assert.equal(again.rtoMs, backedOff, 'an acknowledgement of a datagram sent twice could answer either: no sample');
});

test('a SACK range past what was sent (a confused or hostile server) is ignored', () => {
  const w = newWriter();
  drain(w);
  welcome(w, T0);
  datagramEach(w, 2);
  drain(w);
  ack(w, 0, 0, T0 + 5, [{ first: 2, last: 1_000 }]);
  assert.equal(w.unconfirmedLines, 2, 'received, not yet stored');
  ack(w, 2, 2, T0 + 6);
  assert.equal(w.unconfirmedLines, 0);
});

test('--timeout counts from the last progress: a server committing slowly keeps the writer going; ACKs that say nothing new do not', () => {
  const slow = newWriter({ timeoutMs: 1_000, windowInitial: 8 });
  drain(slow);
  welcome(slow, T0);
  datagramEach(slow, 3);
  drain(slow);
  ack(slow, 3, 0, T0 + 10);
  for (let c = 1, now = T0 + 10; now < T0 + 3_000; now += 100) {
    if (now >= T0 + 10 + c * 900 && c <= 3) ack(slow, 3, c++, now);
    slow.handleTimeout(now);
  }
  assert.ok(!events(slow).some((e) => e.type === 'failed'), 'a commit every 900 ms is progress');

  const stuck = newWriter({ timeoutMs: 1_000, windowInitial: 8 });
  drain(stuck);
  welcome(stuck, T0);
  datagramEach(stuck, 3);
  drain(stuck);
  ack(stuck, 3, 0, T0 + 10);
  let failedAt: number | undefined;
  for (let now = T0 + 10; now < T0 + 3_000 && failedAt === undefined; now += 50) {
    ack(stuck, 3, 0, now); // the same, again and again
    stuck.handleTimeout(now);
    if (events(stuck).some((e) => e.type === 'failed')) failedAt = now;
  }
  assert.ok(failedAt !== undefined && failedAt <= T0 + 1_060, `gave up at +${(failedAt ?? 0) - T0}`);
});

test('an idle writer whose server keeps answering is not timed out by its first new line', () => {
  const w = newWriter({ timeoutMs: 1_000 });
  drain(w);
  welcome(w, T0);
  for (let now = T0 + 1_000; now <= T0 + 10_000; now += 1_000) {
    w.handleTimeout(now);
    for (const t of drain(w)) if (t.packet.kind === 'ping') w.handleDatagram(encode({ kind: 'pong', sessionId: 77n }), SERVER, now + 1);
  }
  w.submitLine(Buffer.from('late news'));
  w.flush(T0 + 10_500);
  w.handleTimeout(T0 + 10_600);
  assert.ok(!events(w).some((e) => e.type === 'failed'));
});

test('closing, a late THROTTLE or STALLED of the session is not reported: everything is stored already', () => {
  const w = newWriter();
  drain(w);
  welcome(w, T0);
  datagramEach(w, 1);
  ack(w, 1, 1, T0 + 5);
  w.endInput(T0 + 6);
  drain(w);
  events(w);
  w.handleDatagram(encode({ kind: 'throttle', sessionId: 77n, limit: 1, retryAfterMs: 5_000 }), SERVER, T0 + 7);
  w.handleDatagram(encode({ kind: 'stalled', sessionId: 77n, retryAfterMs: 1_000, reason: 'disk full' }), SERVER, T0 + 8);
  assert.deepEqual(events(w), []);
  w.handleDatagram(encode({ kind: 'goodbye', sessionId: 77n }), SERVER, T0 + 9);
  assert.deepEqual(events(w), [{ type: 'done' }]);
});

test('signing on again, with a server heartbeat shorter than the HELLO retry: HELLOs only, no PING of a session it does not have', () => {
  const w = newWriter();
  drain(w);
  w.handleDatagram(
    encode({ kind: 'welcome', nonce: 1, sessionId: 77n, maxMessageBytes: 1 << 20, maxDatagramBytes: 1200, heartbeatMs: 200, resume: 1, missed: 0 }),
    SERVER,
    T0,
  );
  w.handleDatagram(encode({ kind: 'unknown-session', sessionId: 77n }), SERVER, T0 + 1);
  const sent = new Set<string>();
  for (let now = T0 + 1, i = 0; now < T0 + 10_000 && i < 1_000; i++) {
    for (const t of drain(w)) sent.add(t.packet.kind);
    now = w.nextDeadline()!;
    w.handleTimeout(now);
  }
  assert.deepEqual([...sent], ['hello']);
});

test('datagrams taken for lost, then acknowledged after all (they were late): no more in flight than the window', () => {
  const w = newWriter({ windowInitial: 4, timeoutMs: 600_000 });
  drain(w);
  welcome(w, T0);
  datagramEach(w, 4);
  assert.deepEqual(seqs(w), [1, 2, 3, 4]);
  const rto = w.rtoMs;
  w.handleTimeout(T0 + rto); // all taken for lost; the window is cut and the oldest go again
  const again = seqs(w);
  assert.ok(again.length < 4, `${again} sent again`);
  // The first ones were only late: all four arrive, none stored yet.
  ack(w, 4, 0, T0 + rto + 5);
  datagramEach(w, 20);
  // In flight now: only the new ones (the four arrived). The window is fractional: its whole part, or one more.
  const inFlight = seqs(w).length;
  assert.ok(inFlight <= w.window + 1, `${inFlight} in flight, window ${w.window}`);
});

test('a datagram three behind one that arrived is taken for lost once it is one smoothed round trip old, not later', () => {
  const w = newWriter({ windowInitial: 16, timeoutMs: 600_000 });
  drain(w);
  welcome(w, T0 + 20); // the HELLO's round trip: 20 ms
  w.submitLine(Buffer.alloc(1000, 97));
  w.flush(T0 + 20);
  drain(w);
  ack(w, 1, 1, T0 + 40); // 20 ms again: the smoothed round trip stays 20 ms
  datagramEach(w, 5, T0 + 40);
  assert.deepEqual(seqs(w), [2, 3, 4, 5, 6]);
  // 5 and 6 arrived 20 ms later, 2..4 not: 2 and 3 are three behind 6, and exactly one round trip old.
  ack(w, 1, 1, T0 + 60, [{ first: 5, last: 6 }]);
  assert.deepEqual(seqs(w), [2, 3], 'sent again at once');
});

/** A writer with a 20 ms round trip and a wide window; `send` sends `n` datagrams, `sack` acknowledges. */
function lossyWriter() {
  const w = newWriter({ windowInitial: 32, windowMax: 512, timeoutMs: 600_000 });
  drain(w);
  welcome(w, T0 + 20); // the HELLO's round trip: 20 ms
  const send = (n: number, at: number): number[] => {
    datagramEach(w, n, at);
    return seqs(w);
  };
  const sack = (received: number, first: number, last: number, at: number) => ack(w, received, received, at, [{ first, last }]);
  return { w, send, sack };
}

test('a loss among datagrams sent after the last cut is a new loss: the window is halved again', () => {
  const { w, send, sack } = lossyWriter();
  assert.deepEqual(send(8, T0 + 20), [1, 2, 3, 4, 5, 6, 7, 8]);
  sack(0, 5, 8, T0 + 40); // 1..4 lost (three behind 8): the first cut, recovery up to 8
  const afterFirst = w.window;
  assert.deepEqual(seqs(w).slice(0, 4), [1, 2, 3, 4], 'sent again');
  ack(w, 8, 8, T0 + 60); // all eight stored
  const before = w.window;
  assert.ok(before >= afterFirst);
  const sent = send(5, T0 + 60);
  assert.deepEqual(sent, [9, 10, 11, 12, 13]);
  sack(8, 12, 13, T0 + 80); // 9 and 10 lost: sent after the first cut, so a new loss
  assert.equal(w.window, Math.max(2, Math.floor(before / 2)), `window ${before} halved`);
});

test('the last datagram sent before a cut, lost too, belongs to the same loss: no second cut', () => {
  const { w, send, sack } = lossyWriter();
  assert.deepEqual(send(8, T0 + 20), [1, 2, 3, 4, 5, 6, 7, 8]);
  sack(0, 5, 7, T0 + 40); // 1..4 lost: the cut; 8 was the last sent before it
  const cut = w.window;
  drain(w);
  ack(w, 7, 7, T0 + 60); // all but 8 stored
  const grown = w.window;
  send(4, T0 + 60); // 9..12
  sack(7, 11, 12, T0 + 100); // 8 is three behind 11, and lost too
  assert.ok(w.window >= grown, `window ${cut}, then ${grown}, now ${w.window}: not cut again`);
});

test('a STALLED that comes once everything is stored (late, or repeated on the way) is not reported: nothing is stalled', () => {
  const w = newWriter();
  drain(w);
  welcome(w, T0);
  datagramEach(w, 1);
  ack(w, 1, 1, T0 + 5);
  events(w);
  w.handleDatagram(encode({ kind: 'stalled', sessionId: 77n, retryAfterMs: 1_000, reason: 'disk full' }), SERVER, T0 + 6);
  assert.deepEqual(events(w), []);
  // Lines later, stored at once: no stall to be over either.
  datagramEach(w, 1);
  ack(w, 2, 2, T0 + 20);
  assert.deepEqual(events(w), []);
});

test('stalled, then the server lost the session after storing everything: the new session says the stall is over', () => {
  const w = newWriter();
  drain(w);
  welcome(w, T0);
  assert.equal(w.messageLimit, 1 << 20, 'the limit the WELCOME gave');
  datagramEach(w, 2);
  drain(w);
  events(w);
  w.handleDatagram(encode({ kind: 'stalled', sessionId: 77n, retryAfterMs: 500, reason: 'disk full' }), SERVER, T0 + 1);
  w.handleDatagram(encode({ kind: 'unknown-session', sessionId: 77n }), SERVER, T0 + 2);
  assert.deepEqual(events(w), [{ type: 'stalled', reason: 'disk full' }]);
  const hello = drain(w)[0]!.packet;
  welcome(w, T0 + 3, 3, 1 << 16, hello.kind === 'hello' ? hello.nonce : 0);
  assert.deepEqual(events(w), [{ type: 'registered', again: true }, { type: 'stall-over' }]);
  assert.equal(w.confirmedLines, 2);
  assert.equal(w.messageLimit, 1 << 16, 'the new session’s limit');
  // A later stall is news again.
  datagramEach(w, 1, T0 + 4);
  drain(w);
  w.handleDatagram(encode({ kind: 'stalled', sessionId: 77n, retryAfterMs: 500, reason: 'disk full' }), SERVER, T0 + 5);
  assert.deepEqual(events(w), [{ type: 'stalled', reason: 'disk full' }]);
});

test('signing on again (the server lost the session) while throttled and with datagrams in flight: only HELLOs go until welcomed, and the RTO is not backed off meanwhile', () => {
  const w = newWriter({ windowInitial: 4 });
  drain(w);
  welcome(w, T0);
  datagramEach(w, 8);
  drain(w);
  w.handleDatagram(encode({ kind: 'throttle', sessionId: 77n, limit: 10, retryAfterMs: 300 }), SERVER, T0 + 1);
  const rto = w.rtoMs;
  w.handleDatagram(encode({ kind: 'unknown-session', sessionId: 77n }), SERVER, T0 + 2);
  const kinds: string[] = [];
  for (let now = T0 + 3; now < T0 + 3_000; now += 10) {
    w.handleTimeout(now);
    kinds.push(...drain(w).map((t) => t.packet.kind));
  }
  assert.ok(kinds.length > 0 && kinds.every((k) => k === 'hello'), kinds.join(','));
  assert.equal(w.rtoMs, rto, 'no retransmission timer ran while signing on');
});

test('a path reset (a TCP connection dropped) sends what is in flight again at once, without backing off', () => {
  const w = newWriter({ windowInitial: 4 });
  drain(w);
  w.handlePathReset(T0);
  assert.deepEqual(drain(w), [], 'before the session: nothing (the HELLO has its own timer)');
  welcome(w, T0);
  datagramEach(w, 3);
  assert.equal(drain(w).length, 3);
  ack(w, 1, 1, T0 + 1);
  drain(w);
  const timeout = w.nextDeadline()!;
  w.handlePathReset(T0 + 2);
  const again = drain(w).map((t) => (t.packet as Data).seq);
  assert.deepEqual(again, [2, 3], 'the unacknowledged ones, now');
  assert.ok(w.nextDeadline()! <= timeout + 2, 'no backoff: a reset is not a slow server');
  ack(w, 3, 3, T0 + 3);
  w.handlePathReset(T0 + 4);
  assert.deepEqual(drain(w), [], 'nothing in flight: nothing to send');
});

test('a resuming writer asks for its marks page by page once registered, sends nothing before, and numbers on from the server', () => {
  const w = new WriterCore({ ...WRITER_DEFAULTS, name: 'w', servers: [SERVER], producerId: 5n, nonce: 1, recall: true }, T0);
  drain(w);
  welcome(w, T0, 41);
  assert.deepEqual(events(w), [{ type: 'registered', again: false }]);
  let sent = drain(w);
  assert.deepEqual(sent.map((s) => s.packet), [{ kind: 'recall', sessionId: 77n, requestId: 1, from: 0 }]);
  // Unanswered: asked again as it was.
  w.handleTimeout(w.nextDeadline()!);
  assert.deepEqual(drain(w).map((s) => s.packet), [{ kind: 'recall', sessionId: 77n, requestId: 1, from: 0 }]);
  const mark = (k: string): WriterMark => ({ key: Buffer.from(k), value: Buffer.from([1]) });
  const marks = (requestId: number, from: number, list: WriterMark[]) =>
    w.handleDatagram(encode({ kind: 'marks', sessionId: 77n, requestId, total: 3, from, marks: list }), SERVER, T0 + 400);
  marks(1, 1, [mark('b')]);
  assert.deepEqual(drain(w), [], 'not the page asked for');
  marks(1, 0, [mark('a'), mark('b')]);
  sent = drain(w);
  assert.deepEqual(sent.map((s) => s.packet), [{ kind: 'recall', sessionId: 77n, requestId: 2, from: 2 }]);
  marks(1, 0, [mark('a'), mark('b')]);
  assert.deepEqual(events(w), [], 'an answer to the earlier question');
  marks(2, 2, [mark('c')]);
  const e = events(w);
  assert.equal(e.length, 1);
  assert.deepEqual(e[0], { type: 'recalled', marks: [mark('a'), mark('b'), mark('c')], known: true });
  assert.equal(w.nextDeadline(), T0 + 400 + 5_000, 'no question out: only the heartbeat is due, from the last RECALL');
  w.submitLine(Buffer.from('x'));
  w.mark(mark('a'));
  w.flush(T0 + 500);
  const data = drain(w)[0]!.packet as Data;
  assert.equal(data.seq, 41, 'the server had stored up to 40 under this producer');
  assert.deepEqual(data.entries.map((x) => x.mark?.toString() ?? x.text.toString()), ['x', 'a']);
});

test('registered again with datagrams to resend: the marks sent ahead and not yet stored go first, the rest renumbered after them', () => {
  const ahead = (name: string): WriterMark => ({ key: Buffer.from(name), value: Buffer.from('0') });
  const marksOf = (d: Data): string[] => d.entries.filter((e) => e.mark).map((e) => e.mark!.toString());
  const w = newWriter({ windowInitial: 4 });
  drain(w);
  welcome(w, T0);
  datagramEach(w, 3);
  w.markAhead(ahead('opened'));
  w.flush(T0);
  const first = drain(w).map((t) => t.packet as Data);
  assert.deepEqual(first.map((d) => [d.seq, marksOf(d)]), [[1, []], [2, []], [3, []], [4, ['opened']]], 'the window had room: it went after the lines in flight');
  // The window is full now: the next mark sent ahead waits in the queue, ahead of the lines queued after it.
  datagramEach(w, 1);
  w.markAhead(ahead('later'));
  w.flush(T0);
  assert.deepEqual(drain(w), []);
  ack(w, 1, 1, T0 + 1);
  drain(w);
  // The server restarts having stored the first datagram only: both marks go first to the new session.
  w.handleDatagram(encode({ kind: 'unknown-session', sessionId: 77n }), SERVER, T0 + 2);
  const hello = drain(w)[0]!.packet as HelloWriter;
  welcome(w, T0 + 3, 2, 1 << 20, hello.nonce);
  const resent = drain(w).map((t) => t.packet as Data);
  assert.deepEqual(
    resent.map((d) => [d.seq, marksOf(d), d.entries.filter((e) => !e.mark).length]),
    [[2, ['opened', 'later'], 0], [3, [], 1], [4, [], 1], [5, ['opened'], 0], [6, ['later'], 1]],
    'then the lines, renumbered, and what was queued after them',
  );
  ack(w, 6, 6, T0 + 4);
  assert.equal(w.confirmedLines, 4);
  w.submitLine(Buffer.from('x'));
  w.flush(T0 + 4);
  assert.deepEqual(drain(w).map((t) => (t.packet as Data).seq), [7], 'new datagrams go on from there');
});

test('registered again with nothing to resend: a mark sent ahead simply goes in the next datagram', () => {
  const w = newWriter();
  drain(w);
  welcome(w, T0);
  datagramEach(w, 2);
  drain(w);
  ack(w, 2, 2, T0 + 1);
  w.handleDatagram(encode({ kind: 'unknown-session', sessionId: 77n }), SERVER, T0 + 2);
  const hello = drain(w)[0]!.packet as HelloWriter;
  w.markAhead({ key: Buffer.from('k'), value: Buffer.from('v') });
  welcome(w, T0 + 3, 3, 1 << 20, hello.nonce);
  assert.deepEqual(drain(w).map((t) => (t.packet as Data).seq), [3]);
});
