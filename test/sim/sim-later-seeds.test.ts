// The default workload's second half of seeds (see sim.test.ts); a replay of one seed (SEED=n) runs there.
import { test } from 'node:test';
import { defaultWorkload } from './default-workload.js';
import { count, single } from './seeds.js';

const half = Math.ceil(count / 2);

test(`simulation: seeds ${half + 1}-${count} of ${count} of writers, server and readers over a faulty network`, { skip: single !== undefined || count < 2 }, (t) =>
  defaultWorkload(t, Array.from({ length: count - half }, (_, i) => half + i + 1)));
