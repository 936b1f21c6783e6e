// Simulated workloads of everyday use: queue groups, killed readers, idle spells, a full disk, presence, --once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSimulation } from './harness.js';
import { CLEAN } from './network.js';
import { seeds } from './seeds.js';

test('simulation: queue groups with a member killed, --count consumers that come and go until the queue is drained, slow output', async () => {
  for (const seed of seeds(60_001, 60_040)) {
    const r = await runSimulation(seed, { groupMembers: 3, memberCrash: true, countConsumers: true, slowOutput: seed % 2 === 0 });
    assert.deepEqual(r.failures, [], `seed ${seed}`);
  }
});

test('simulation: readers killed mid-stream and restarted (at once on the same host, or later) resume with no gap; writers pause longer than the liveness timeout', async () => {
  let reclaimed = 0;
  // Seed 70_016 is one where a reader comes back at once from the same host: kept in thinned runs.
  for (const seed of new Set([...seeds(70_001, 70_040), 70_016])) {
    const r = await runSimulation(seed, { readerCrash: true, slowOutput: true, writerPauseMs: 8_000, readers: 2 });
    assert.deepEqual(r.failures, [], `seed ${seed}`);
    reclaimed += r.namesReclaimed;
  }
  // Some came back at once, from the same host: the server asked the dead one and gave the name over.
  assert.ok(reclaimed > 0, `names reclaimed: ${reclaimed}`);
});

test('simulation: on a clean network with a live server and idle spells, no client is ever told the server is lost', async () => {
  for (const seed of seeds(80_001, 80_030)) {
    const r = await runSimulation(seed, {
      faults: CLEAN,
      restarts: 0,
      partitions: 0,
      writerPauseMs: seed % 2 === 0 ? 3_000 : 8_000,
      readerDelays: [0, 700, 3_000],
      groupMembers: 2,
      storeFullMs: 0,
    });
    assert.deepEqual(r.failures, [], `seed ${seed}`);
  }
});

test('simulation: the store refuses appends for seconds (a full disk): writers wait, nothing is lost or doubled', async () => {
  for (const seed of seeds(90_001, 90_030)) {
    const r = await runSimulation(seed, { storeFullMs: 1_000 + (seed % 5) * 1_000, groupMembers: 2 });
    assert.deepEqual(r.failures, [], `seed ${seed}`);
  }
});

test('simulation: readers that watch who is online (as the chat does) end up showing everyone as they are, and every answer on where a reader is (the chat\'s receipts) is sound, through loss, restarts, partitions and killed readers', async () => {
  for (const seed of seeds(85_001, 85_040)) {
    const variant = seed % 3 === 0 ? { authenticated: true, partitions: 2 } : seed % 3 === 1 ? { restarts: 2, readerCrash: true } : { groupMembers: 2, memberCrash: true };
    const r = await runSimulation(seed, { watchers: 2, ...variant });
    assert.deepEqual(r.failures, [], `seed ${seed}`);
    assert.ok(r.tracked > 0, `seed ${seed}: no answer on where a reader is was checked`);
  }
});

test('simulation: a reader run with --once again and again, its server crashing as a run says goodbye: across runs every message is printed once', async () => {
  for (const seed of seeds(97_001, 97_040)) {
    const r = await runSimulation(seed, { onceRuns: true, restarts: 2, ...(seed % 2 === 1 && { store: 'sqlite' as const }) });
    assert.deepEqual(r.failures, [], `seed ${seed}`);
  }
});

test('simulation: a log that keeps only its newest messages: readers and group members that fall behind are told how many they missed, and skip nothing else', async () => {
  let missed = 0;
  for (const seed of seeds(95_001, 95_040)) {
    const r = await runSimulation(seed, {
      retainMessages: 20 + (seed % 4) * 30,
      readerDelays: [0, 700, 3_000],
      groupMembers: seed % 2 === 0 ? 2 : 0,
      countConsumers: false,
      onceRuns: false,
      ...(seed % 3 === 0 && { store: 'sqlite' as const }),
    });
    assert.deepEqual(r.failures, [], `seed ${seed}`);
    missed += r.missed;
  }
  assert.ok(missed > 0, 'readers fell behind and were told');
});

test('simulation: a work queue on a log that keeps only its newest messages: --count consumers one after the other and long lines; each consumer is told once what retention took, and the queue drains', async () => {
  let missed = 0;
  for (const seed of seeds(95_101, 95_130)) {
    const r = await runSimulation(seed, {
      retainMessages: 20 + (seed % 4) * 30,
      countConsumers: true,
      groupMembers: seed % 2 === 0 ? 2 : 0,
      longLineChance: 0.05,
      ...(seed % 3 === 0 && { store: 'sqlite' as const }),
    });
    assert.deepEqual(r.failures, [], `seed ${seed}`);
    missed += r.missed;
  }
  assert.ok(missed > 0, 'consumers fell behind and were told');
});

test('simulation: the registry swept as the run goes (--forget-after): clients long gone are forgotten with their positions; readers killed and restarted, --once runs, queue groups and watchers lose nothing', async () => {
  for (const seed of seeds(96_101, 96_116)) {
    const r = await runSimulation(seed, {
      forgetting: true,
      readerCrash: seed % 2 === 0,
      onceRuns: seed % 2 === 1,
      groupMembers: seed % 3 === 0 ? 2 : 0,
      watchers: seed % 4 === 0 ? 1 : 0,
      restarts: seed % 3,
      ...(seed % 4 === 1 && { store: 'sqlite' as const }),
    });
    assert.deepEqual(r.failures, [], `seed ${seed}`);
  }
});

test('simulation: TCP connections of writers, readers, group members and watchers drop mid-stream (what was in flight lost, the client told): nothing lost, doubled or reordered', async () => {
  for (const seed of seeds(98_001, 98_040)) {
    const r = await runSimulation(seed, { pathResets: 3 + (seed % 8), watchers: seed % 2, groupMembers: seed % 3 === 0 ? 2 : 0, ...(seed % 4 === 0 && { restarts: 1 }) });
    assert.deepEqual(r.failures, [], `seed ${seed}`);
    assert.ok(r.faultsFired >= 3, `seed ${seed}: ${r.faultsFired} faults fired`);
  }
});

test('simulation: writers that keep their place in the store (run-writer --follow) killed again and again and started again: each run resumes from its stored mark, and every line is stored once, in order', async () => {
  let kills = 0;
  for (const seed of seeds(99_001, 99_040)) {
    const r = await runSimulation(seed, {
      writerCrashes: 1 + (seed % 4),
      readerCrash: seed % 3 === 0,
      groupMembers: seed % 4 === 0 ? 2 : 0,
      ...(seed % 2 === 1 && { store: 'sqlite' as const }),
      restarts: seed % 3,
    });
    assert.deepEqual(r.failures, [], `seed ${seed}`);
    kills += r.writerKills;
  }
  assert.ok(kills > 0, 'writers were killed');
});

test('simulation: topics beside the default one, on one server or two sharing the store (sqlite or memory), through loss and restarts, some with a retention of the default topic only: each topic its own log, each line once and in order in it, a group per topic, a pattern reader of them all, an unlisted pair (as the chat\'s direct messages) never in the registry, and watchers that show where each client is', async () => {
  for (const seed of seeds(98_001, 98_030)) {
    const two = seed % 3 === 0;
    const r = await runSimulation(seed, {
      sideTopics: 2,
      groupMembers: 2,
      // The default topic's retention is not theirs: they keep every line (a retention rule per topic).
      ...(seed % 4 === 1 && { retainMessages: 40 }),
      // Watchers show each client where it registered (with two servers, a watcher sees its own server's only).
      ...(two ? { servers: 2, storeStalls: 0.02 } : { restarts: 2, ...(seed % 3 === 1 && { watchers: 2 }) }),
      ...(seed % 2 === 1 && !two && { store: 'sqlite' as const }),
    });
    assert.deepEqual(r.failures, [], `seed ${seed}`);
  }
});
