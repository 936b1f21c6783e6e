import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CongestionWindow } from '../../src/core/writer/congestion.js';

test('the window grows by one per datagram acknowledged up to the threshold, by one per window after, and never past its limit', () => {
  const w = new CongestionWindow(4, 64);
  w.acked(4);
  assert.equal(w.size, 8, 'slow start: doubled in one window');
  w.lost(false, 1, 10);
  assert.equal(w.size, 4, 'halved');
  w.acked(4);
  assert.equal(w.size, 4, 'past the threshold: a window of acknowledgements adds one');
  w.acked(1);
  assert.equal(w.size, 5);
  const small = new CongestionWindow(60, 64);
  small.acked(100);
  assert.equal(small.size, 64);
});

test('losses within one window of data shrink it once; a timeout takes it to a quarter, never below 2', () => {
  const w = new CongestionWindow(32, 64);
  w.lost(false, 1, 40);
  assert.equal(w.size, 16);
  w.lost(false, 20, 50); // oldest unconfirmed at or before 40: the same loss event
  assert.equal(w.size, 16);
  w.lost(false, 41, 60); // data sent after the first cut: a new loss
  assert.equal(w.size, 8);
  w.lost(true, 41, 60);
  assert.equal(w.size, 2);
  w.lost(true, 41, 60);
  assert.equal(w.size, 2);
  assert.ok(w.allows(1) && !w.allows(2));
});
