import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ReplayWindow } from '../../src/core/replay-window.js';

test('a record counter is accepted once: replays are refused, in order or not, and so is one too old to tell', () => {
  const w = new ReplayWindow(128);
  for (const n of [0, 1, 5, 3, 2]) {
    assert.equal(w.fresh(n), true, `${n} first`);
    w.accept(n);
    assert.equal(w.fresh(n), false, `${n} again`);
  }
  assert.equal(w.fresh(4), true, 'a gap is filled later');
  w.accept(1000);
  assert.equal(w.fresh(4), false, 'far behind the newest: refused');
  assert.equal(w.fresh(1000 - 95), true, 'within the window');
  assert.equal(w.fresh(1000 - 96), false, 'past the certain part of the window');
  assert.equal(w.fresh(-1), false);
  assert.equal(w.fresh(1.5), false);
  assert.equal(w.fresh(2 ** 53), false);
  assert.throws(() => new ReplayWindow(100), /multiple of 32/);
});

test('a counter checked but not accepted (its tag was wrong) stays fresh: a forgery moves nothing', () => {
  const w = new ReplayWindow(64);
  assert.equal(w.fresh(10_000), true);
  assert.equal(w.fresh(0), true);
  w.accept(0);
  assert.equal(w.fresh(1), true);
});

test('against a model: every counter accepted at most once; every fresh one within the window accepted', () => {
  fc.assert(
    fc.property(fc.array(fc.nat({ max: 3000 }), { maxLength: 400 }), fc.constantFrom(64, 128, 1024), (ns, size) => {
      const w = new ReplayWindow(size);
      const seen = new Set<number>();
      let newest = -1;
      for (const n of ns) {
        const fresh = w.fresh(n);
        if (seen.has(n)) assert.equal(fresh, false, `${n} replayed`);
        else if (n > newest || newest - n < size - 32) assert.equal(fresh, true, `${n} new, newest ${newest}`);
        else assert.equal(fresh, false, `${n} too old, newest ${newest}`);
        if (fresh) {
          w.accept(n);
          seen.add(n);
          newest = Math.max(newest, n);
        }
      }
    }),
    { numRuns: 500 },
  );
});
