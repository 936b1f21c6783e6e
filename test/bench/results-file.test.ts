import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mergeResults } from '../../bench/results-file.js';

const file = ['# udp-relay bench', '', 'run header', '', '## Throughput: old', '', 'old figures', '', '## Latency: old', '', 'old latency', ''].join('\n');

test('a run of some sections replaces those in bench/RESULTS.md and keeps the others, marked with when they were measured', () => {
  const fresh = ['# udp-relay bench', '', 'new header', '', '## Latency: new', '', 'new latency', ''].join('\n');
  assert.equal(
    mergeResults(file, fresh, 'Measured on its own.'),
    ['# udp-relay bench', '', 'run header', '', '## Throughput: old', '', 'old figures', '', '## Latency: new', '', 'new latency', '', 'Measured on its own.', ''].join('\n'),
  );
});

test('a section the file does not have yet is added at its end', () => {
  const fresh = ['# udp-relay bench', '', '## Monitoring: new', '', 'figures', ''].join('\n');
  const merged = mergeResults(file, fresh, 'note');
  assert.ok(merged.startsWith(file.trimEnd()));
  assert.ok(merged.endsWith('## Monitoring: new\n\nfigures\n\nnote\n'));
});
