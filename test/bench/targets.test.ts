import assert from 'node:assert/strict';
import { test } from 'node:test';
import { commandOf, summarize, type CpuProfile } from '../../bench/cpu-profile.js';
import { targetsTable } from '../../bench/targets.js';

const frame = (functionName: string, url: string, lineNumber = 0): { functionName: string; url: string; lineNumber: number } => ({ functionName, url, lineNumber });
const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame('(root)', '') },
    { id: 2, callFrame: frame('(idle)', '') },
    { id: 3, callFrame: frame('(garbage collector)', '') },
    { id: 4, callFrame: frame('process', 'file:///x/dist/commands/run-server.js') },
    { id: 5, callFrame: frame('insertRecord', 'file:///x/dist/commands/run-server-chunk-4HBQGWAE.js') },
    { id: 6, callFrame: frame('FastBuffer', 'node:internal/buffer') },
    { id: 7, callFrame: frame('', 'file:///x/dist/commands/run-server.js', 7461) },
  ],
  samples: [2, 2, 3, 4, 4, 4, 5, 6, 3, 7],
  timeDeltas: [5000, 5000, 1000, 1000, 1000, 1000, 2000, 500, 1000, 1500],
};

test('a CPU profile is summed by function: idle left out, GC apart, the busiest first, bundle chunk hashes dropped', () => {
  const s = summarize(profile, 3);
  assert.equal(s.busyMs, 9);
  assert.equal(s.gcMs, 2);
  assert.deepEqual(s.top, [
    { name: 'process run-server.js', ms: 3 },
    { name: 'insertRecord run-server.js', ms: 2 },
    { name: '(anonymous) run-server.js:7462', ms: 1.5 },
  ]);
  assert.equal(commandOf(profile), 'run-server');
  assert.equal(commandOf({ ...profile, nodes: profile.nodes.filter((n) => !n.callFrame.url.includes('run-server.js')) }), undefined);
});

test('the targets table says met or by how much a target is missed, from the medians of the run', () => {
  const table = targetsTable({
    throughput1M: { ours: [400_000, 500_000, 600_000], coreNats: [400_000, 300_000, 400_000] },
    latency: [
      { warmup: 100, ours: { p50: [0.5, 0.5, 0.5], p99: [1, 1, 1] }, floor: { p50: [0.2, 0.2, 0.2], p99: [0.9, 0.9, 0.9] } },
      { warmup: 3_000, ours: { p50: [0.3, 0.3, 0.3], p99: [0.8, 0.9, 2] }, floor: { p50: [0.15, 0.15, 0.15], p99: [0.25, 0.3, 0.5] } },
    ],
    memory: { worstAtSizeMb: 190, peakMb: 260, idleMb: 110, bareNodeMb: 45, ownAtWorstMb: 140 },
    fanout10k: { allReceived: true, serverCpuPercent: 79 },
    profile: { command: 'run-server', usPerLine: 3.2, gcShare: 0.4 },
  });
  const row = (start: string): string => {
    const found = table.find((l) => l.startsWith(`| ${start}`));
    assert.ok(found, `no row for ${start} in\n${table.join('\n')}`);
    return found;
  };
  assert.match(row('`seq 1 1000000`'), /500,000 lines\/s \| missed: 2\.00× short \| run-server is the busiest process: 3\.20 µs of CPU per line \(40% of it in GC\)/);
  assert.match(row('at least 2× core NATS'), /\| 1\.50× core NATS \| missed: 1\.33× short/);
  assert.match(row('p50 within 1.25× the bare Node floor, 100 lines first'), /0\.50 ms, 2\.50× the floor \(0\.20 ms\) \| missed: 2\.00× over/);
  assert.match(row('p99 within 1.25× the bare Node floor, 100 lines first'), /1\.11× the floor \(0\.90 ms\) \| met/);
  assert.match(row('p99 within 1.25× the bare Node floor, 3,000 lines first'), /0\.90 ms, 3\.20× the floor \(0\.30 ms\) \| missed: 2\.56× over/);
  assert.match(row('p99 ≤ 1 ms steady'), /0\.90 ms \| met/);
  assert.equal(table.filter((l) => l.startsWith('| p99 ≤ 1 ms steady')).length, 1, 'the 1 ms target is for the steady run only');
  assert.match(row('server RSS ≤ 64 MB'), /190 MB at worst, 110 MB after idle \(peak 260\) \| missed: 2\.97× over \| a bare Node process holds 45 MB/);
  assert.match(row('fan-out to 10,000 readers'), /all delivered, server 79% of a core \| met/);
  assert.deepEqual(targetsTable({}), [], 'no sections measured, no table');
});
