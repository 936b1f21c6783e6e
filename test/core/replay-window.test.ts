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
  assert.throws(() => new ReplayWindow(32), /at least 64/);
  assert.equal(new ReplayWindow(64).fresh(-1), false, 'negative, before anything');
});

test('the ring of words is reused as the newest moves on: what a word held a lap ago is cleared, what is recent is kept', () => {
  const fresh = (w: ReplayWindow, from: number, to: number): boolean[] => Array.from({ length: to - from + 1 }, (_, i) => w.fresh(from + i));
  // A jump to the next word only, twice round a two-word ring: the word reached is cleared.
  const a = new ReplayWindow(64);
  for (const n of [40, 70, 127]) a.accept(n);
  assert.equal(a.fresh(104), true, 'bit 8 of the word that held 40');
  // A jump over several words, and one over the whole ring.
  const b = new ReplayWindow(64);
  for (let n = 0; n < 64; n++) b.accept(n);
  b.accept(100);
  assert.deepEqual(fresh(b, 69, 99), Array(31).fill(true));
  b.accept(1000);
  assert.deepEqual(fresh(b, 969, 999), Array(31).fill(true));
  assert.equal(b.fresh(1000), false);
  // Recent ones are kept when the newest moves into the next word.
  const c = new ReplayWindow(128);
  for (let n = 0; n <= 10; n++) c.accept(n);
  c.accept(40);
  assert.deepEqual(fresh(c, 0, 10), Array(11).fill(false));
  // A counter too old to tell is not recorded: it would mark the word that is now a newer one.
  const d = new ReplayWindow(64);
  d.accept(100);
  d.accept(10);
  assert.equal(d.fresh(74), true);
  // A jump of 2^40 costs no more than one round of the ring.
  const e = new ReplayWindow(64);
  const t0 = Date.now();
  e.accept(2 ** 40);
  assert.ok(Date.now() - t0 < 100);
  assert.equal(e.fresh(2 ** 40 - 1), true);
});

test('a counter checked but not accepted (its tag was wrong) stays fresh: a forgery moves nothing', () => {
  const w = new ReplayWindow(64);
  assert.equal(w.fresh(10_000), true);
  assert.equal(w.fresh(0), true);
  w.accept(0);
  assert.equal(w.fresh(1), true);
});

test('against a model, on counters that mostly climb with replays and reordering (a real path): each accepted once, each fresh one within the window accepted', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: -40, max: 70 }), { maxLength: 300 }), fc.constantFrom(64, 96, 128), (steps, size) => {
      const w = new ReplayWindow(size);
      const seen = new Set<number>();
      let newest = -1;
      let at = 0;
      for (const step of steps) {
        at = Math.max(0, at + step);
        const fresh = w.fresh(at);
        assert.equal(fresh, !seen.has(at) && (at > newest || newest - at < size - 32), `${at}, newest ${newest}`);
        if (fresh) {
          w.accept(at);
          seen.add(at);
          newest = Math.max(newest, at);
        }
      }
    }),
    { numRuns: 300 },
  );
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
