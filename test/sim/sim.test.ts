// The default workload over many seeds, its first half (the second is in sim-later-seeds.test.ts). The
// other workloads are in sim-workloads.test.ts and sim-faults.test.ts, so that the files run side by side.
import { test } from 'node:test';
import { defaultWorkload } from './default-workload.js';
import { count, single } from './seeds.js';

const half = Math.ceil(count / 2);

test(`simulation: ${single ? `seed ${single}` : `seeds 1-${half} of ${count}`} of writers, server and readers over a faulty network`, (t) =>
  defaultWorkload(t, single ? [Number(single)] : Array.from({ length: half }, (_, i) => i + 1)));
