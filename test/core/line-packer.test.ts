import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LinePacker } from '../../src/core/writer/line-packer.js';
import { varintBytes } from '../../src/protocol/bytes-writer.js';
import { dataEntryBytes } from '../../src/protocol/sizes.js';

const push = (p: LinePacker, text: string, to?: string): void => {
  const b = Buffer.from(`xx${text}yy`);
  p.push(b, 2, b.length - 2, to);
};
const texts = (e: { entries: { text: Buffer }[] } | undefined): string[] => e?.entries.map((x) => x.text.toString()) ?? [];

test('whole lines, as many as fit the budget exactly; the next datagram takes the rest', () => {
  const p = new LinePacker(1 << 20);
  assert.equal(p.hasPending, false);
  assert.equal(p.next(100), undefined);
  for (const t of ['aaaa', 'bbbb', 'cccc']) push(p, t);
  assert.equal(p.hasPending, true);
  const budget = 2 * dataEntryBytes(4);
  const first = p.next(budget);
  assert.deepEqual(texts(first), ['aaaa', 'bbbb'], 'two fit exactly');
  assert.equal(first!.linesEnded, 2);
  assert.deepEqual(first!.entries[0], { text: Buffer.from('aaaa'), more: false, continued: false });
  const second = p.next(budget - 1);
  assert.deepEqual(texts(second), ['cccc']);
  assert.equal(p.hasPending, false);
  assert.equal(p.next(100), undefined);
});

test('a direct line carries its recipient; others do not have the key at all', () => {
  const p = new LinePacker(1 << 20);
  push(p, 'hi', 'bob');
  push(p, 'all');
  const e = p.next(100)!;
  assert.deepEqual(e.entries, [
    { text: Buffer.from('hi'), more: false, continued: false, to: 'bob' },
    { text: Buffer.from('all'), more: false, continued: false },
  ]);
});

test('a line too big for the datagram goes in fragments that fill each datagram; its recipient rides on the first', () => {
  const p = new LinePacker(1 << 20);
  push(p, 'before');
  const long = 'L'.repeat(1_000);
  push(p, long, 'bob');
  push(p, 'after');
  const budget = 300;
  assert.deepEqual(texts(p.next(budget)), ['before'], 'the long line starts a datagram of its own');
  const parts: { text: Buffer; more: boolean; continued: boolean; to?: string }[] = [];
  let linesEnded = 0;
  while (p.hasPending) {
    const e = p.next(budget)!;
    linesEnded += e.linesEnded;
    parts.push(...e.entries);
  }
  assert.equal(parts.map((x) => x.text.toString()).join(''), long + 'after');
  assert.equal(parts.at(-1)!.text.toString(), 'after');
  const fragments = parts.slice(0, -1);
  assert.equal(fragments[0]!.to, 'bob');
  assert.equal(fragments[0]!.continued, false);
  for (const f of fragments.slice(1)) {
    assert.equal('to' in f, false, 'no recipient on a continuation');
    assert.equal(f.continued, true);
  }
  assert.deepEqual(fragments.map((f) => f.more), [...fragments.slice(1).map(() => true), false]);
  // Each fragment but the last fills its datagram: one byte more would not fit.
  const firstBytes = dataEntryBytes(fragments[0]!.text.length, 'bob');
  assert.ok(firstBytes <= budget && dataEntryBytes(fragments[0]!.text.length + 1, 'bob') > budget, `first fragment ${firstBytes} bytes`);
  const midBytes = dataEntryBytes(fragments[1]!.text.length);
  assert.ok(midBytes <= budget && dataEntryBytes(fragments[1]!.text.length + 1) > budget, `second fragment ${midBytes} bytes`);
  assert.equal(linesEnded, 2, 'the long line and the one after it');
});

test('fragments are never smaller than 64 bytes, however small the budget', () => {
  const p = new LinePacker(1 << 20);
  push(p, 'x'.repeat(200));
  const e = p.next(20)!;
  assert.equal(e.entries[0]!.text.length, 64);
  assert.equal(e.linesEnded, 0);
  assert.ok(varintBytes(20) === 1);
});

test('input is refused past the byte bound and the line bound, and accepted again as lines go', () => {
  const p = new LinePacker(10);
  assert.equal(p.acceptingInput, true);
  push(p, 'abcd');
  push(p, 'efgh');
  assert.equal(p.acceptingInput, true, '8 bytes of 10');
  push(p, 'ij');
  assert.equal(p.acceptingInput, false, '10 bytes of 10');
  p.next(dataEntryBytes(4));
  assert.equal(p.acceptingInput, true, 'one line sent: 6 bytes queued');
  push(p, 'klm');
  assert.equal(p.acceptingInput, true, '9 bytes of 10');
  push(p, 'n');
  assert.equal(p.acceptingInput, false, '10 bytes of 10 again');
  const many = new LinePacker(1 << 30);
  const b = Buffer.from('');
  for (let i = 0; i < 65_535; i++) many.push(b, 0, 0);
  assert.equal(many.acceptingInput, true);
  many.push(b, 0, 0);
  assert.equal(many.acceptingInput, false, '65,536 lines queued');
  many.next(dataEntryBytes(0));
  assert.equal(many.acceptingInput, true);
});

test('sent lines leave the queue: its arrays stay near the size of what is pending', () => {
  const p = new LinePacker(1 << 30);
  const b = Buffer.from('line');
  for (let i = 0; i < 100_000; i++) {
    p.push(b, 0, 4);
    if (i % 10 === 9) while (p.hasPending) p.next(1_200);
  }
  const arrays = p as unknown as { bytesOf: unknown[]; starts: unknown[] };
  assert.ok(arrays.bytesOf.length <= 2_100 && arrays.starts.length <= 2_100, `${arrays.bytesOf.length} slots kept`);
  // A long queue drained in one go is let go of too, not only short ones.
  const big = new LinePacker(1 << 30);
  for (let i = 0; i < 5_000; i++) big.push(b, 0, 4);
  while (big.hasPending) big.next(1_200);
  const slots = (big as unknown as { bytesOf: unknown[] }).bytesOf.length;
  assert.ok(slots <= 1_100, `${slots} slots kept after draining 5,000 lines`);
});
