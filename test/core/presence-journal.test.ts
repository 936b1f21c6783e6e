import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PresenceJournal } from '../../src/core/server/presence-journal.js';
import type { PresenceEntry } from '../../src/protocol/packets.js';

const entry = (i: number): PresenceEntry => ({ name: `n${i}`, role: 'reader', online: i % 2 === 0, lastSeen: i, topic: 'main' });

test('versions start where the server says, within 1..2^31-2, never at 0', () => {
  assert.equal(new PresenceJournal(5).version, 5);
  assert.equal(new PresenceJournal(0).version, 1);
  assert.equal(new PresenceJournal(0x7fff_ffff).version, 1);
  assert.equal(new PresenceJournal(0x7fff_fffe).version, 0x7fff_fffe);
  assert.equal(new PresenceJournal(0x8000_0005).version, 6);
  assert.equal(new PresenceJournal(-1).version, 1);
});

test('each change is numbered; a client asks for what changed since the version it has', () => {
  const j = new PresenceJournal(100);
  assert.deepEqual(j.since(100), [], 'up to date');
  assert.equal(j.since(99), undefined, 'a version this journal never had');
  j.record(entry(1));
  j.record(entry(2));
  j.record(entry(3));
  assert.equal(j.version, 103);
  assert.deepEqual(j.since(100), [
    { version: 101, entry: entry(1) },
    { version: 102, entry: entry(2) },
    { version: 103, entry: entry(3) },
  ]);
  assert.deepEqual(j.since(102), [{ version: 103, entry: entry(3) }]);
  assert.deepEqual(j.since(103), []);
  assert.equal(j.since(104), undefined);
});

test('the journal keeps the last 1,024 changes: an older version must ask for the whole registry', () => {
  const j = new PresenceJournal(1);
  for (let i = 0; i < 1_025; i++) j.record(entry(i));
  assert.equal(j.version, 1_026);
  assert.equal(j.since(1), undefined, 'the start version is too old now');
  assert.equal(j.since(2)?.length, 1_024, 'the first change fell out: from its version on, all are here');
  assert.deepEqual(j.since(2)?.[0], { version: 3, entry: entry(1) });
  assert.equal(j.since(3)?.length, 1_023);
  assert.deepEqual(j.since(3)?.[0], { version: 4, entry: entry(2) });
  j.record(entry(1_025));
  assert.equal(j.since(2), undefined);
  assert.equal(j.since(3)?.length, 1_024);
});
