// Simulated stores and faults: sqlite, heavy loss, authenticated mode, two servers, a failing store.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSimulation } from './harness.js';
import { seeds } from './seeds.js';

test('simulation on the sqlite store (a real file): every workload, with crashes and a full disk', async () => {
  for (const seed of seeds(95_001, 95_012)) {
    const r = await runSimulation(seed, { store: 'sqlite', restarts: 2, groupMembers: 2, memberCrash: true, readerCrash: true, countConsumers: true, storeFullMs: seed % 3 === 0 ? 2_000 : 0 });
    assert.deepEqual(r.failures, [], `seed ${seed}`);
  }
});

test('simulation: a clean network with restarts and partitions still delivers everything exactly once', async () => {
  for (const seed of seeds(10_001, 10_020)) {
    const r = await runSimulation(seed, { restarts: 2, partitions: 2, linesPerWriter: 200 });
    assert.deepEqual(r.failures, [], `seed ${seed}`);
  }
});

test('simulation: half the datagrams lost, lines longer than a datagram', async () => {
  for (const seed of seeds(20_001, 20_010)) {
    const r = await runSimulation(seed, {
      faults: { loss: 0.5, duplicate: 0.05, reorder: 0.1, delayMs: 0.5, jitterMs: 0.5 },
      longLineChance: 0.1,
      faultsForMs: 20_000,
    });
    assert.deepEqual(r.failures, [], `seed ${seed}`);
  }
});

test('simulation: authenticated mode through loss, restarts and partitions', async () => {
  for (const seed of seeds(30_001, 30_015)) {
    const r = await runSimulation(seed, { authenticated: true, restarts: 1, partitions: 1 });
    assert.deepEqual(r.failures, [], `seed ${seed}`);
  }
});

test('simulation: plain text (--insecure-plaintext on every side) through loss, restarts and partitions, as encrypted sessions are', async () => {
  for (const seed of seeds(31_001, 31_015)) {
    const r = await runSimulation(seed, { plaintext: true, authenticated: false, restarts: 1, partitions: 1 });
    assert.deepEqual(r.failures, [], `seed ${seed}`);
  }
});

test('simulation: two servers on one store; clients move on when theirs goes down or is cut off, and nothing is lost or doubled', async () => {
  for (const seed of seeds(40_001, 40_060)) {
    const r = await runSimulation(seed, { servers: 2, outages: 1, restarts: seed % 2, partitions: seed % 3, storeStalls: 0.02 });
    assert.deepEqual(r.failures, [], `seed ${seed}`);
  }
});

test('simulation: the store failing requests now and then (its connection drops), with one server or two: nothing stalls, is lost or doubled', async () => {
  for (const seed of seeds(50_001, 50_060)) {
    const r = await runSimulation(seed, { servers: 1 + (seed % 2), outages: seed % 2, storeErrors: 0.05, storeStalls: 0.01 });
    assert.deepEqual(r.failures, [], `seed ${seed}`);
  }
});
