import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LineSplitter } from '../../src/io/line-splitter.js';

const split = (chunks: string[], max = 100) => {
  const lines: string[] = [];
  const over: number[] = [];
  const s = new LineSplitter(max, (b, start, end) => lines.push(b.toString('utf8', start, end)), (b) => over.push(b));
  for (const c of chunks) s.push(Buffer.from(c));
  s.end();
  return { lines, over };
};

test('every line is a message; empty lines too; CR before LF is dropped', () => {
  assert.deepEqual(split(['x\n\ny\n']).lines, ['x', '', 'y']);
  assert.deepEqual(split(['a\r\nb\r\n']).lines, ['a', 'b']);
  assert.deepEqual(split(['a\r\r\n']).lines, ['a\r']);
});

test('lines split across chunks are joined; a last line without a newline counts', () => {
  assert.deepEqual(split(['hel', 'lo\nwor', 'ld']).lines, ['hello', 'world']);
  assert.deepEqual(split(['']).lines, []);
  assert.deepEqual(split(['\n']).lines, ['']);
});

test('a line over the limit is reported with its size and not kept; its neighbours are', () => {
  const r = split(['short\n', 'x'.repeat(60), 'x'.repeat(60), '\nafter\n'], 100);
  assert.deepEqual(r.lines, ['short', 'after']);
  assert.deepEqual(r.over, [120]);
  const exact = split(['y'.repeat(100) + '\r\n'], 100);
  assert.deepEqual(exact.lines, ['y'.repeat(100)]);
});
