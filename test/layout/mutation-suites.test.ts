import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';

// `npm run mutate` runs the unit tests through the suites in test/mutation/ (stryker.config.json): a unit
// test file no suite imports kills no mutant, and the mutation report would call what it tests untested.
test('every unit test file of the protocol, the cores and the command line is in a mutation suite', () => {
  const suites = readdirSync('test/mutation').filter((f) => f.endsWith('.suite.ts'));
  const imported = new Set(suites.flatMap((f) => [...readFileSync(`test/mutation/${f}`, 'utf8').matchAll(/import '\.\.\/([\w/-]+)\.test\.js'/g)].map((m) => m[1])));
  const units = ['core', 'protocol', 'cli'].flatMap((dir) =>
    readdirSync(`test/${dir}`)
      .filter((f) => f.endsWith('.test.ts'))
      .map((f) => `${dir}/${f.slice(0, -'.test.ts'.length)}`),
  );
  assert.ok(units.length > 20);
  assert.deepEqual(units.filter((u) => !imported.has(u)), []);
  const config = JSON.parse(readFileSync('stryker.config.json', 'utf8')) as { tap: { testFiles: string[] } };
  assert.deepEqual(config.tap.testFiles.map((f) => f.replace('test/mutation/', '')).sort(), suites.sort(), 'every suite is run');
});
