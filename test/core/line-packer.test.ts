import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LinePacker, type PackedEntries } from '../../src/core/writer/line-packer.js';
import { ENTRIES_PER_PACKET_MAX } from '../../src/protocol/constants.js';
import { markEntryBytes } from '../../src/protocol/marks-codec.js';
import type { DataEntry, WriterMark } from '../../src/protocol/packets.js';
import { varintBytes } from '../../src/protocol/bytes-writer.js';
import { dataEntryBytes } from '../../src/protocol/sizes.js';

const push = (p: LinePacker, text: string, to?: string): void => {
  const b = Buffer.from(`xx${text}yy`);
  p.push(b, 2, b.length - 2, to);
};
const texts = (e: { entries: { text: Buffer }[] } | undefined): string[] => e?.entries.map((x) => x.text.toString()) ?? [];
const mark = (key: string, value: string): WriterMark => ({ key: Buffer.from(key), value: Buffer.from(value) });
/** A datagram's entries as `text`, marks as `key=value`. */
const shown = (e: PackedEntries | undefined): string[] => e?.entries.map((x) => (x.mark ? `${x.mark.toString()}=${x.text.toString()}` : x.text.toString())) ?? [];

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

test('a mark goes at the end of the datagram that ends the line before it, the latest per key; its bytes count', () => {
  const p = new LinePacker(1 << 20);
  push(p, 'aaaa');
  p.mark(mark('f', '1'));
  push(p, 'bbbb');
  p.mark(mark('f', '2'));
  push(p, 'cccc');
  p.mark(mark('g', '1'));
  const budget = 2 * dataEntryBytes(4) + markEntryBytes(1, 1);
  const first = p.next(budget)!;
  assert.deepEqual(shown(first), ['aaaa', 'bbbb', 'f=2'], 'the later mark of f replaces the earlier one');
  assert.equal(first.linesEnded, 2);
  assert.deepEqual(shown(p.next(budget)), ['cccc', 'g=1']);
  // A mark with nothing queued before it stands alone.
  p.mark(mark('f', '3'));
  assert.equal(p.hasPending, true);
  assert.deepEqual(shown(p.next(budget)), ['f=3']);
  assert.equal(p.next(budget), undefined);
  // A line that fits but for its mark waits for the next datagram.
  push(p, 'dddd');
  push(p, 'eeee');
  p.mark(mark('f', '4'));
  assert.deepEqual(shown(p.next(2 * dataEntryBytes(4))), ['dddd']);
  assert.deepEqual(shown(p.next(2 * dataEntryBytes(4))), ['eeee', 'f=4']);
});

test("a long line's mark rides on its last fragment, never beside a fragment to be continued", () => {
  const p = new LinePacker(1 << 20);
  const long = 'L'.repeat(500);
  push(p, long);
  p.mark({ key: Buffer.from('f'), value: Buffer.from('end') });
  const parts: DataEntry[][] = [];
  while (p.hasPending) parts.push(p.next(200)!.entries);
  for (const entries of parts.slice(0, -1)) assert.ok(entries.every((e) => !e.mark && e.more), 'fragments to be continued carry no mark');
  const lastPart = parts.at(-1)!;
  assert.equal(lastPart.length, 2);
  assert.equal(lastPart[0]!.more, false);
  assert.equal(lastPart[1]!.mark!.toString(), 'f');
  assert.equal(parts.flat().filter((e) => !e.mark).map((e) => e.text.toString()).join(''), long);
  // Exactly the size that fits without its mark: the last fragment is still left a byte.
  const q = new LinePacker(1 << 20);
  push(q, 'M'.repeat(100));
  q.mark({ key: Buffer.from('f'), value: Buffer.from('x') });
  const firstPart = q.next(dataEntryBytes(100))!.entries;
  assert.deepEqual(firstPart.map((e) => [e.more, e.text.length]), [[true, 99]]);
  assert.deepEqual(q.next(dataEntryBytes(100))!.entries.map((e) => e.text.length), [1, 1]);
});

test(`a datagram holds at most ${ENTRIES_PER_PACKET_MAX} entries, however short its lines`, () => {
  const p = new LinePacker(1 << 20);
  for (let i = 0; i < ENTRIES_PER_PACKET_MAX + 10; i++) push(p, '');
  const first = p.next(65_000)!;
  assert.equal(first.entries.length, ENTRIES_PER_PACKET_MAX);
  assert.equal(p.next(65_000)!.entries.length, 10);
});

test("a mark of another key after a line does not take the place of the line's own mark: both reach the datagram", () => {
  const p = new LinePacker(1 << 20);
  push(p, 'aaaa');
  p.mark(mark('f', '1'));
  p.mark(mark('g', 'opened'));
  p.mark(mark('g', 'again'));
  push(p, 'bbbb');
  p.mark(mark('f', '2'));
  const e = p.next(1000)!;
  assert.deepEqual(shown(e), ['aaaa', 'bbbb', 'f=2', 'g=again']);
  assert.equal(e.linesEnded, 2);
  // Cut after the first line: its own mark goes with it, and the other key's with the next datagram.
  const q = new LinePacker(1 << 20);
  push(q, 'aaaa');
  q.mark(mark('f', '1'));
  q.mark(mark('g', 'x'));
  push(q, 'bbbb');
  const first = q.next(dataEntryBytes(4) + markEntryBytes(1, 1))!;
  assert.deepEqual(first.entries.map((x) => x.mark?.toString() ?? x.text.toString()), ['aaaa', 'f']);
});

test('a mark sent ahead goes in the next datagram that starts a line, before the queued lines; a later mark of its key wins', () => {
  const p = new LinePacker(1 << 20);
  push(p, 'aaaa');
  p.mark(mark('f', '1'));
  push(p, 'bbbb');
  p.mark(mark('f', '2'));
  p.markAhead(mark('g', 'opened'));
  // Room for one line and the marks: the ahead mark does not wait for bbbb.
  const budget = dataEntryBytes(4) + 2 * markEntryBytes(1, 6);
  assert.deepEqual(shown(p.next(budget)), ['aaaa', 'g=opened', 'f=1']);
  assert.deepEqual(shown(p.next(budget)), ['bbbb', 'f=2']);
  // Alone, it is a datagram of its own; later marks of its key after lines replace it in their datagram.
  p.markAhead(mark('h', '0'));
  assert.equal(p.hasPending, true);
  assert.deepEqual(shown(p.next(budget)), ['h=0']);
  p.markAhead(mark('h', '0'));
  push(p, 'cccc');
  p.mark(mark('h', '1'));
  assert.deepEqual(shown(p.next(budget)), ['cccc', 'h=1']);
  assert.equal(p.next(budget), undefined);
  // Never beside a fragment to be continued: it waits for the datagram after the line's end.
  push(p, 'L'.repeat(300));
  p.mark(mark('f', '3'));
  assert.equal(p.next(200)!.entries.length, 1);
  p.markAhead(mark('k', '0'));
  const rest = shown(p.next(200));
  assert.ok(rest.includes('f=3') && !rest.includes('k=0'), rest.join(','));
  assert.deepEqual(shown(p.next(200)), ['k=0']);
});

test('marks sent ahead fill datagrams by bytes and by entries, as far as each holds', () => {
  const p = new LinePacker(1 << 20);
  for (let i = 0; i < 10; i++) p.markAhead(mark(`k${i}`, 'v'.repeat(10)));
  // Room for three marks exactly: 3, 3, 3, 1.
  const budget = 3 * markEntryBytes(2, 10);
  const sizes: number[] = [];
  for (let e = p.next(budget); e; e = p.next(budget)) sizes.push(e.entries.length);
  assert.deepEqual(sizes, [3, 3, 3, 1]);
  const q = new LinePacker(1 << 20);
  for (let i = 0; i < ENTRIES_PER_PACKET_MAX + 3; i++) q.markAhead(mark(`k${i}`, ''));
  assert.equal(q.next(1 << 20)!.entries.length, ENTRIES_PER_PACKET_MAX);
  assert.equal(q.next(1 << 20)!.entries.length, 3);
  // Lines and their marks of distinct keys count together against the entries a datagram holds.
  const r = new LinePacker(1 << 20);
  for (let i = 0; i < ENTRIES_PER_PACKET_MAX; i++) {
    push(r, '');
    r.mark(mark(`k${i}`, ''));
  }
  const first = r.next(1 << 20)!;
  assert.equal(first.entries.length, ENTRIES_PER_PACKET_MAX);
  assert.equal(first.linesEnded, ENTRIES_PER_PACKET_MAX / 2);
});

test('a mark alone in its slot is sent when it fits exactly; mark entries are neither MORE nor CONTINUED; sent marks free their room', () => {
  const p = new LinePacker(10);
  p.mark(mark('f', '1'));
  const e = p.next(markEntryBytes(1, 1))!;
  assert.deepEqual(shown(e), ['f=1']);
  assert.deepEqual([e.entries[0]!.more, e.entries[0]!.continued], [false, false]);
  // A queue of 10 bytes: twenty marks alone, sent, leave it accepting lines.
  for (let i = 0; i < 20; i++) p.mark(mark(`k${i}`, '1'));
  while (p.hasPending) p.next(1000);
  assert.equal(p.acceptingInput, true);
});

test('a line from a file names it on its first entry only; a mark sent ahead never shares a datagram with a first fragment', () => {
  const p = new LinePacker(1 << 20);
  const b = Buffer.from('L'.repeat(300));
  p.push(b, 0, b.length, undefined, 'app.log');
  const parts: DataEntry[][] = [];
  while (p.hasPending) parts.push(p.next(200)!.entries);
  assert.ok(parts.length > 1);
  assert.equal(parts[0]![0]!.file, 'app.log');
  for (const part of parts.slice(1)) assert.ok(part.every((x) => !('file' in x)), 'continued fragments carry no file');
  const q = new LinePacker(1 << 20);
  q.markAhead(mark('g', '0'));
  q.push(b, 0, b.length);
  assert.deepEqual(shown(q.next(200)), ['g=0']);
  assert.equal(q.next(200)!.entries[0]!.more, true);
});
