import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Liveness } from '../../src/core/liveness.js';
import { READER_DEFAULTS, ReaderCore } from '../../src/core/reader/reader-core.js';
import { WRITER_DEFAULTS, WriterCore } from '../../src/core/writer/writer-core.js';
import { encode } from '../../src/protocol/codec.js';
import type { Packet } from '../../src/protocol/packets.js';
import { drain, SERVER, T0 } from './helpers.js';

/**
 * One liveness rule for every role: a server is called unresponsive only when something sent to it has
 * gone unanswered for lostAfterMs; idle time is no evidence; a heartbeat finds a dead server within
 * heartbeat + lostAfterMs, said once, and its return said once.
 */
interface Role {
  name: string;
  core: WriterCore | ReaderCore;
  /** The user gives the client something to do (a line; a poll comes due by itself for a reader). */
  work(now: number): void;
}

const SESSION = 77n;
const HEARTBEAT_MS = 5_000;
const LOST_MS = 2_000;

const welcomeOf = (nonce: number): Buffer =>
  encode({ kind: 'welcome', nonce, sessionId: SESSION, maxMessageBytes: 1 << 20, maxDatagramBytes: 1200, heartbeatMs: HEARTBEAT_MS, resume: 1, missed: 0 });

/** A live server: answers every datagram at once, as a healthy server on a clean network would. */
function answer(core: WriterCore | ReaderCore, p: Packet, now: number): void {
  let reply: Packet | undefined;
  if (p.kind === 'ping') reply = { kind: 'pong', sessionId: SESSION };
  else if (p.kind === 'data') reply = { kind: 'ack', sessionId: SESSION, received: p.seq, committed: p.seq, sacks: [] };
  else if (p.kind === 'fetch') {
    reply = { kind: 'batch', sessionId: SESSION, fetchId: p.fetchId, part: 0, lastPart: true, caughtUp: true, seek: false, missed: 0, position: p.position, offset: p.offset, nextPosition: p.position, nextOffset: 0, messages: [] };
  }
  if (reply) core.handleDatagram(encode(reply), SERVER, now);
}

function roles(): Role[] {
  const writer = new WriterCore({ ...WRITER_DEFAULTS, name: 'w', servers: [SERVER], producerId: 5n, nonce: 1 }, T0);
  writer.handleDatagram(welcomeOf(1), SERVER, T0);
  const delayed = new ReaderCore({ ...READER_DEFAULTS, name: 'r', servers: [SERVER], nonce: 1, delayMs: 3_000 }, T0);
  delayed.handleDatagram(welcomeOf(1), SERVER, T0);
  const polling = new ReaderCore({ ...READER_DEFAULTS, name: 'p', servers: [SERVER], nonce: 1 }, T0);
  polling.handleDatagram(welcomeOf(1), SERVER, T0);
  return [
    {
      name: 'writer',
      core: writer,
      work: (now) => {
        writer.submitLine(Buffer.from('slow'));
        writer.flush(now);
      },
    },
    { name: 'reader --delay 3', core: delayed, work: () => {} },
    { name: 'reader --delay 0', core: polling, work: () => {} },
  ];
}

const eventTypes = (core: WriterCore | ReaderCore): string[] => {
  const out: string[] = [];
  for (let e = core.pollEvent(); e; e = core.pollEvent()) out.push(e.type);
  return out;
};

/** Runs the client from `from` to `to` in 10 ms steps; `live` says whether the server answers. */
function run(role: Role, from: number, to: number, live: (now: number) => boolean): string[] {
  const seen: string[] = [];
  // Answers arrive one step (10 ms) after their request: a timer due now fires before them, as it would.
  const inFlight: Packet[] = [];
  for (let t = from; t <= to; t += 10) {
    if (t % 4_000 === 0) role.work(t); // a line every 4 s: idle spells shorter than a heartbeat, longer than lostAfterMs
    role.core.handleTimeout(t);
    for (const p of inFlight.splice(0)) answer(role.core, p, t);
    for (const sent of drain(role.core)) if (live(t)) inFlight.push(sent.packet);
    for (const e of eventTypes(role.core)) seen.push(`${e}@${t}`);
  }
  return seen;
}

for (const make of [0, 1, 2]) {
  test(`liveness, ${roles()[make]!.name}: idle spells with a live server are never taken for an outage`, () => {
    const role = roles()[make]!;
    eventTypes(role.core);
    drain(role.core);
    const seen = run(role, T0 + 10, T0 + 60_000, () => true).filter((e) => !e.startsWith('messages') && !e.startsWith('caught-up'));
    assert.deepEqual(seen, []);
  });

  test(`liveness, ${roles()[make]!.name}: a server that dies while the client is idle is reported within heartbeat + lostAfterMs, once; its return once`, () => {
    const role = roles()[make]!;
    eventTypes(role.core);
    drain(role.core);
    const diesAt = T0 + 10_005;
    const backAt = T0 + 40_005;
    const seen = run(role, T0 + 10, T0 + 60_000, (t) => t < diesAt || t >= backAt).filter((e) => !e.startsWith('messages'));
    const lost = seen.filter((e) => e.startsWith('server-lost'));
    const back = seen.filter((e) => e.startsWith('server-back'));
    assert.equal(lost.length, 1, seen.join(' '));
    assert.equal(back.length, 1, seen.join(' '));
    const lostAt = Number(lost[0]!.split('@')[1]);
    assert.ok(lostAt - diesAt <= HEARTBEAT_MS + LOST_MS, `reported ${lostAt - diesAt} ms after the server died`);
    assert.ok(Number(back[0]!.split('@')[1]) >= backAt);
  });
}

test('liveness: an answer to an old request does not hide a newer one going unanswered', () => {
  const w = new WriterCore({ ...WRITER_DEFAULTS, name: 'w', servers: [SERVER], producerId: 5n, nonce: 1 }, T0);
  w.handleDatagram(welcomeOf(1), SERVER, T0);
  drain(w);
  w.submitLine(Buffer.from('a'));
  w.flush(T0 + 1);
  drain(w);
  // The server says it has the datagram but has not stored it yet: still owed, from now.
  w.handleDatagram(encode({ kind: 'ack', sessionId: SESSION, received: 1, committed: 0, sacks: [] }), SERVER, T0 + 2);
  w.handleTimeout(T0 + 2 + LOST_MS - 1);
  assert.deepEqual(eventTypes(w).filter((e) => e === 'server-lost'), []);
  w.handleTimeout(T0 + 2 + LOST_MS);
  assert.deepEqual(eventTypes(w).filter((e) => e === 'server-lost'), ['server-lost']);
});


test('Liveness itself: owed from the first unanswered send; lost once, back once; reset forgets both', () => {
  const l = new Liveness(4_000);
  assert.equal(l.deadline, undefined);
  assert.equal(l.unansweredSince, undefined);
  assert.equal(l.due(1e9), false, 'nothing owed, never lost');
  l.sent(100);
  l.sent(900);
  assert.equal(l.unansweredSince, 100, 'timed from the first unanswered send');
  assert.equal(l.deadline, 4_100);
  assert.equal(l.due(4_099), false);
  assert.equal(l.due(4_100), true);
  l.markReported();
  assert.equal(l.deadline, undefined, 'said once');
  assert.equal(l.due(1e9), false);
  assert.equal(l.heard(5_000, true), true, 'back');
  assert.equal(l.unansweredSince, 5_000, 'more owed, timed from the answer');
  assert.equal(l.heard(5_100, false), false, 'back only once');
  assert.equal(l.unansweredSince, undefined);
  l.sent(6_000);
  l.markReported();
  l.reset();
  assert.equal(l.unansweredSince, undefined);
  assert.equal(l.deadline, undefined);
  assert.equal(l.heard(7_000, false), false, 'a reset forgets the reported loss');
  l.sent(8_000);
  assert.equal(l.deadline, 12_000, 'a reset forgets what was owed');
});
