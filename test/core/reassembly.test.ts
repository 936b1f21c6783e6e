import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Reassembly } from '../../src/core/reader/reassembly.js';
import { MESSAGE_BYTES_MAX } from '../../src/protocol/constants.js';
import type { Batch, WireMessage } from '../../src/protocol/packets.js';

const part = (position: number, offset = 0): Batch => ({
  kind: 'batch', sessionId: 1n, fetchId: 1, part: 0, lastPart: false, caughtUp: false, position, offset,
  nextPosition: position + 1, nextOffset: 0, missed: 0, messages: [],
});
const frag = (id: number, offset: number, total: number, text: string): WireMessage => ({
  id, ts: 5, from: 'w', text: Buffer.from(text), fragment: { offset, total },
});

test('parts wait until the reader reaches them, each once; those before where it stands are dropped', () => {
  const r = new Reassembly();
  assert.equal(r.hold(part(3), 1, 0), true);
  assert.equal(r.hold(part(3), 1, 0), false, 'held already');
  assert.equal(r.take(1, 0), undefined);
  assert.equal(r.take(3, 0)?.position, 3);
  assert.equal(r.take(3, 0), undefined, 'taken out');
  r.hold(part(2), 1, 0);
  r.hold(part(5, 7), 1, 0);
  r.dropBefore(5, 7);
  assert.equal(r.held, 1);
  assert.equal(r.take(5, 7)?.offset, 7);
});

test('at most 128 parts wait; the one that fills the gap is always kept', () => {
  const r = new Reassembly();
  for (let i = 0; i < 128; i++) assert.equal(r.hold(part(10 + i), 1, 0), true);
  assert.equal(r.hold(part(500), 1, 0), false, 'full');
  assert.equal(r.hold(part(1), 1, 0), true, 'the gap');
  r.reset();
  assert.equal(r.held, 0);
});

test('a message in fragments is whole once its last fragment is in, in order; anything out of place starts over', () => {
  const r = new Reassembly();
  assert.equal(r.fragment(frag(4, 0, 6, 'abc')), undefined);
  assert.equal(r.continues(4, 3), true);
  assert.equal(r.continues(4, 2), false, 'not where the held start ends: dropped');
  assert.equal(r.fragment(frag(4, 3, 6, 'def')), undefined, 'its start is gone');
  r.fragment(frag(4, 0, 6, 'abc'));
  const whole = r.fragment(frag(4, 3, 6, 'def'));
  assert.deepEqual(whole, { id: 4, ts: 5, from: 'w', text: Buffer.from('abcdef') });
  r.fragment(frag(7, 0, 6, 'abc'));
  assert.equal(r.fragment(frag(7, 3, 9, 'def')), undefined, 'another total');
  assert.equal(r.fragment(frag(8, 0, MESSAGE_BYTES_MAX + 1, 'x')), undefined, 'a size no server holds');
  assert.equal(r.continues(8, 1), false);
});
