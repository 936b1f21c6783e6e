import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encode } from '../../src/protocol/codec.js';
import type { DataEntry, Marks, Welcome } from '../../src/protocol/packets.js';
import { CLIENT, helloWriter, openWriter, OTHER, ServerHarness, T0 } from './helpers.js';

const line = (text: string): DataEntry => ({ more: false, continued: false, text: Buffer.from(text) });
const mark = (key: string, value: string): DataEntry => ({ more: false, continued: false, mark: Buffer.from(key), text: Buffer.from(value) });

test("a writer's marks are stored with its lines, and given back page by page to its next session (RECALL, MARKS)", async () => {
  const h = new ServerHarness({ datagramBytes: 512, loopbackDatagramBytes: 512 });
  const sid = await openWriter(h);
  const keys = Array.from({ length: 40 }, (_, i) => `file-${String(i).padStart(2, '0')}`);
  const out = await h.deliver(encode({ kind: 'data', sessionId: sid, seq: 1, entries: [line('a'), ...keys.map((k) => mark(k, `at ${k}`))] }), CLIENT, T0 + 1);
  assert.equal(out[0]!.kind, 'ack');
  assert.equal((await h.store.producerMarks(9n)).length, 40, 'stored with the line');
  assert.deepEqual((await h.store.read(1, { maxMessages: 10, maxBytes: 1e6, user: 'r' })).messages.map((m) => m.text.toString()), ['a'], 'a mark is not a message');

  // The writer's next run (same producer), from another port: it resumes after seq 1 and asks for its marks.
  await h.deliver(encode({ kind: 'bye', sessionId: sid, position: 0 }), CLIENT, T0 + 2);
  const [w] = await h.handshake(helloWriter('w', 2), OTHER, T0 + 2);
  const sid2 = (w as Welcome).sessionId;
  assert.equal((w as Welcome).resume, 2);
  const got: string[] = [];
  let from = 0;
  let pages = 0;
  for (;;) {
    const [answer] = await h.deliver(encode({ kind: 'recall', sessionId: sid2, requestId: ++pages, from }), OTHER, T0 + 3);
    const m = answer as Marks;
    assert.equal(m.kind, 'marks');
    assert.equal(m.requestId, pages);
    assert.equal(m.total, 40);
    assert.equal(m.from, from);
    got.push(...m.marks.map((x) => `${x.key.toString()}=${x.value.toString()}`));
    from += m.marks.length;
    if (from >= m.total) break;
  }
  assert.ok(pages > 1, 'more than one datagram');
  assert.deepEqual(got, keys.map((k) => `${k}=at ${k}`));
  // Asked from past the end: none, and the total.
  const [past] = await h.deliver(encode({ kind: 'recall', sessionId: sid2, requestId: 99, from: 500 }), OTHER, T0 + 4);
  assert.deepEqual(past, { kind: 'marks', sessionId: sid2, requestId: 99, total: 40, from: 40, marks: [] });
  // A store that is away: no answer (the writer asks again).
  h.storeDown = true;
  assert.deepEqual(await h.deliver(encode({ kind: 'recall', sessionId: sid2, requestId: 100, from: 0 }), OTHER, T0 + 5), []);
});

test('a mark is not a line: it costs nothing against the message rate', async () => {
  const h = new ServerHarness({ messagesPerSecond: 1 });
  const sid = await openWriter(h);
  const out = await h.deliver(encode({ kind: 'data', sessionId: sid, seq: 1, entries: [line('a'), mark('f', '1'), mark('g', '2')] }), CLIENT, T0 + 1);
  assert.deepEqual(out.map((p) => p.kind), ['ack']);
  assert.equal(h.core.stats.throttled, 0);
});
