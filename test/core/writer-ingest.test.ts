import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WriterIngest } from '../../src/core/server/writer-ingest.js';
import type { DataEntry } from '../../src/protocol/packets.js';

const line = (text: string): DataEntry => ({ more: false, continued: false, text: Buffer.from(text) });
const first = (bytes: number): DataEntry => ({ more: true, continued: false, text: Buffer.alloc(bytes, 97) });
const middle = (bytes: number): DataEntry => ({ more: true, continued: true, text: Buffer.alloc(bytes, 98) });
const last = (bytes: number): DataEntry => ({ more: false, continued: true, text: Buffer.alloc(bytes, 99) });

test('datagrams ahead of the window are not kept: a writer holds at most windowMax early datagrams', () => {
  const ingest = new WriterIngest(1, 64, 1 << 20);
  assert.equal(ingest.accept(64, [line('last in window')]), 'buffered');
  for (let seq = 65; seq < 10_065; seq++) assert.equal(ingest.accept(seq, [line('x'.repeat(1000))]), 'out-of-window');
  assert.equal(ingest.bufferedCount, 1);
  // In-window early ones wait for the gap, and then go in order.
  for (let seq = 2; seq < 64; seq++) ingest.accept(seq, [line(`l${seq}`)]);
  assert.equal(ingest.accept(1, [line('l1')]), 'accepted');
  const { lines, lastSeq } = ingest.drain();
  assert.equal(lastSeq, 64);
  assert.deepEqual(lines.map((l) => l.text.toString()).slice(0, 3), ['l1', 'l2', 'l3']);
  assert.equal(lines.at(-1)!.text.toString(), 'last in window');
  assert.equal(ingest.bufferedCount, 0);
});

test('a line reassembled past the size limit is dropped, not kept growing; the next line is whole', () => {
  const ingest = new WriterIngest(1, 64, 2_500);
  ingest.accept(1, [first(1_000)]);
  ingest.accept(2, [middle(1_000)]);
  ingest.accept(3, [middle(1_000)]); // 3,000 bytes: over the limit
  ingest.accept(4, [last(10)]);
  ingest.accept(5, [line('next')]);
  const { lines } = ingest.drain();
  assert.deepEqual(lines.map((l) => l.text.toString()), ['next']);
  assert.ok(ingest.violations >= 1);
});

test('a line exactly at the size limit is whole', () => {
  const ingest = new WriterIngest(1, 64, 2_010);
  ingest.accept(1, [first(1_000)]);
  ingest.accept(2, [middle(1_000)]);
  ingest.accept(3, [last(10)]);
  const { lines, lastSeq } = ingest.drain();
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.text.length, 2_010);
  assert.equal(lastSeq, 3);
  assert.equal(ingest.violations, 0);
});

test('the commit point never falls inside a line', () => {
  const ingest = new WriterIngest(1, 64, 1 << 20);
  ingest.accept(1, [line('a')]);
  ingest.accept(2, [first(100)]);
  assert.equal(ingest.drain().lastSeq, 1, 'seq 2 opened a line: not clean');
  ingest.accept(3, [last(100)]);
  assert.equal(ingest.drain().lastSeq, 3);
});

test('a direct line keeps its recipient, whole or reassembled; a line to all has none', () => {
  const ingest = new WriterIngest(1, 64, 1 << 20);
  ingest.accept(1, [line('to all'), { ...line('to bob'), to: 'bob' }]);
  ingest.accept(2, [{ ...first(5), to: 'carol' }]);
  ingest.accept(3, [last(5), line('after')]);
  assert.deepEqual(ingest.drain().lines, [
    { text: Buffer.from('to all') },
    { to: 'bob', text: Buffer.from('to bob') },
    { to: 'carol', text: Buffer.from('aaaaaccccc') },
    { text: Buffer.from('after') },
  ]);
});

test('a datagram in which a line\'s first fragment does not stand alone, or a fragment to be continued is not last, is refused, early or not', () => {
  const bad: DataEntry[][] = [
    [first(5), line('x')],
    [line('x'), first(5)],
    [middle(5), line('x')],
    [last(5), middle(5), line('x')],
  ];
  for (const entries of bad) {
    const ingest = new WriterIngest(1, 64, 1 << 20);
    assert.equal(ingest.accept(2, entries), 'violation', 'early');
    assert.equal(ingest.bufferedCount, 0);
    assert.equal(ingest.accept(1, entries), 'violation', 'in order');
    assert.equal(ingest.received, 0, 'nothing of it processed');
    assert.deepEqual(ingest.drain(), { lines: [], lastSeq: 0, marks: [] });
  }
  // What the writer sends: the end of a long line followed by whole lines, and a fragment alone.
  const ingest = new WriterIngest(1, 64, 1 << 20);
  assert.equal(ingest.accept(1, [first(5)]), 'accepted');
  assert.equal(ingest.accept(2, [middle(5)]), 'accepted');
  assert.equal(ingest.accept(3, [last(5), line('b'), line('c')]), 'accepted');
  assert.deepEqual(ingest.drain().lines.map((l) => l.text.toString()), ['aaaaabbbbbccccc', 'b', 'c']);
});

test('a line started while another is still open drops the open one: the new line goes in and the commit point moves on', () => {
  const ingest = new WriterIngest(1, 64, 1 << 20);
  ingest.accept(1, [first(10)]);
  ingest.accept(2, [line('x')]);
  assert.deepEqual(ingest.drain(), { lines: [{ text: Buffer.from('x') }], lastSeq: 2, marks: [] });
  assert.equal(ingest.violations, 1);
});

test("a writer's marks go to the store with the lines before them, the latest per key; one inside a line is refused", () => {
  const mark = (key: string, value: string): DataEntry => ({ more: false, continued: false, mark: Buffer.from(key), text: Buffer.from(value) });
  const shown = (d: ReturnType<WriterIngest['drain']>): string[] => d.marks.map((m) => `${m.key.toString()}=${m.value.toString()}`);
  const ingest = new WriterIngest(1, 64, 1 << 20);
  assert.equal(ingest.accept(2, [line('b'), mark('f', '2'), mark('g', '1')]), 'buffered');
  assert.equal(ingest.accept(1, [line('a'), mark('f', '1')]), 'accepted');
  let d = ingest.drain();
  assert.deepEqual(d.lines.map((l) => l.text.toString()), ['a', 'b']);
  assert.equal(d.lastSeq, 2);
  assert.deepEqual(shown(d), ['f=2', 'g=1']);
  assert.deepEqual(ingest.drain().marks, [], 'handed over once');
  // The store failed: they go back, and a later mark of the same key wins over them.
  ingest.accept(3, [line('c'), mark('g', '3')]);
  ingest.giveBack(d.lines, d.marks);
  d = ingest.drain();
  assert.deepEqual(d.lines.map((l) => l.text.toString()), ['a', 'b', 'c']);
  assert.deepEqual(shown(d), ['f=2', 'g=3']);
  // A mark never shares a datagram with a fragment to be continued, nor comes inside an open line.
  assert.equal(ingest.accept(4, [mark('f', '9'), first(5)]), 'violation');
  assert.equal(ingest.accept(4, [first(5)]), 'accepted');
  assert.equal(ingest.accept(5, [mark('f', '9'), last(5)]), 'accepted');
  assert.equal(ingest.violations, 1, 'the mark inside the line');
  assert.deepEqual(ingest.drain().marks, []);
  assert.equal(ingest.accept(6, [first(5)]), 'accepted');
  assert.equal(ingest.accept(7, [last(5), mark('f', '10')]), 'accepted');
  d = ingest.drain();
  assert.deepEqual(shown(d), ['f=10']);
  assert.equal(d.lastSeq, 7);
});

test('only a sequence number neither processed nor waiting is new', () => {
  const ingest = new WriterIngest(5, 64, 1 << 20);
  ingest.accept(5, [line('a')]);
  ingest.accept(7, [line('c')]);
  assert.deepEqual([4, 5, 6, 7, 8].map((s) => ingest.isNew(s)), [false, false, true, false, true]);
});

test('selective acknowledgements name the early datagrams in ranges, the lowest 16 ranges at most', () => {
  const ingest = new WriterIngest(1, 64, 1 << 20);
  assert.deepEqual(ingest.sacks(), []);
  for (const seq of [3, 4, 5, 8]) ingest.accept(seq, [line(`l${seq}`)]);
  assert.deepEqual(ingest.sacks(), [{ first: 3, last: 5 }, { first: 8, last: 8 }]);
  for (let seq = 10; seq <= 50; seq += 2) ingest.accept(seq, [line(`l${seq}`)]);
  const ranges = ingest.sacks();
  assert.equal(ranges.length, 16);
  assert.deepEqual(ranges.at(-1), { first: 36, last: 36 });
});

test("a line's file goes with it to the store, whole or reassembled from its first fragment", () => {
  const ingest = new WriterIngest(1, 64, 1 << 20);
  ingest.accept(1, [{ ...line('whole'), file: 'a.log' }, line('from stdin')]);
  ingest.accept(2, [{ ...first(5), file: 'b.log' }]);
  ingest.accept(3, [last(5)]);
  assert.deepEqual(ingest.drain().lines, [
    { text: Buffer.from('whole'), file: 'a.log' },
    { text: Buffer.from('from stdin') },
    { text: Buffer.from('aaaaaccccc'), file: 'b.log' },
  ]);
});

test('a datagram with a mark and a fragment to be continued is refused, wherever the mark stands', () => {
  const mark: DataEntry = { more: false, continued: false, mark: Buffer.from('f'), text: Buffer.from('1') };
  for (const entries of [[mark, middle(5)], [last(5), mark, first(5)]]) {
    const ingest = new WriterIngest(1, 64, 1 << 20);
    ingest.accept(1, [first(5)]);
    assert.equal(ingest.accept(2, entries), 'violation');
    assert.deepEqual(ingest.drain().marks, []);
  }
});
