import { test } from 'node:test';
import { runDemo } from './demo-output.js';
import { ensureCommand } from './system-tools.js';

test('the demo the README points to runs to the end, exit 0, with every part doing what it says', async () => {
  ensureCommand('redis-server', 'redis-server'); // so its last part, two servers on one Redis, runs too
  await runDemo();
});
