import assert from 'node:assert/strict';
import { test } from 'node:test';
import { earliest, TimerTable, type Timer } from '../../src/core/timers.js';

test('earliest: the smallest deadline set, or none', () => {
  assert.equal(earliest(), undefined);
  assert.equal(earliest(undefined, undefined), undefined);
  assert.equal(earliest(5, undefined, 3, 9), 3);
  assert.equal(earliest(undefined, 7), 7);
  assert.equal(earliest(3, 5), 3);
  assert.equal(earliest(0, 5), 0);
});

/** A timer at a settable time that records when it fired and moves itself on (or disarms). */
const timer = (name: string, at: number | undefined, log: string[], then?: { next?: number; stop?: boolean }): Timer & { when: number | undefined } => {
  const t = {
    name,
    when: at,
    at: () => t.when,
    fire: (now: number) => {
      log.push(`${name}@${now}`);
      t.when = then?.next;
      return then?.stop ? ('stop' as const) : undefined;
    },
  };
  return t;
};

test('timer table: the next deadline is the earliest armed one, and none when nothing is armed', () => {
  const log: string[] = [];
  const a = timer('a', undefined, log);
  const b = timer('b', 30, log);
  const c = timer('c', 20, log);
  const table = new TimerTable([a, b, c]);
  assert.equal(table.next(), 20);
  assert.deepEqual(table.armed(), { b: 30, c: 20 });
  a.when = 10;
  assert.equal(table.next(), 10);
  a.when = b.when = c.when = undefined;
  assert.equal(table.next(), undefined);
  assert.deepEqual(table.armed(), {});
});

test('timer table: fires exactly the due timers, in table order, each at most once a round', () => {
  const log: string[] = [];
  const table = new TimerTable([timer('a', 15, log, { next: 16 }), timer('b', 10, log), timer('c', 10, log, { next: 100 }), timer('d', 11, log)]);
  table.fireDue(10);
  assert.deepEqual(log, ['b@10', 'c@10']);
  assert.equal(table.next(), 11);
  table.fireDue(16);
  // a moved to 16 by firing; it waits for the next round.
  assert.deepEqual(log, ['b@10', 'c@10', 'a@16', 'd@16']);
  assert.equal(table.next(), 16);
});

test('timer table: a timer that stops the round leaves the later ones for the next', () => {
  const log: string[] = [];
  const table = new TimerTable([timer('give-up', 5, log, { stop: true }), timer('retry', 5, log)]);
  table.fireDue(5);
  assert.deepEqual(log, ['give-up@5']);
  table.fireDue(6);
  assert.deepEqual(log, ['give-up@5', 'retry@6']);
});

test('timer table: a timer sees what an earlier one did in the same round', () => {
  const log: string[] = [];
  const later = timer('later', 50, log);
  const first: Timer = {
    name: 'first',
    at: () => 1,
    fire: (now) => {
      log.push(`first@${now}`);
      later.when = now; // brought forward by the first: due in this round
      first.at = () => undefined;
    },
  };
  new TimerTable([first, later]).fireDue(7);
  assert.deepEqual(log, ['first@7', 'later@7']);
});
