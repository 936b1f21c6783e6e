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
