import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRetentionRule } from '../../src/cli/retention-rules.js';
import { retentionOf } from '../../src/store/topic-retention.js';

const SERVER = { messages: 100, bytes: 0, ageMs: 60_000 };

test('--retain: a pattern and its limits; a limit not given is the server’s', () => {
  assert.deepEqual(parseRetentionRule('logs.>:messages=5', SERVER), { pattern: 'logs.>', limits: { messages: 5, bytes: 0, ageMs: 60_000 } });
  assert.deepEqual(parseRetentionRule('chat.*:seconds=86400, bytes=1000', SERVER), { pattern: 'chat.*', limits: { messages: 100, bytes: 1000, ageMs: 86_400_000 } });
  assert.deepEqual(parseRetentionRule('main:messages=0', SERVER).limits.messages, 0, 'no limit, for one topic');
});

test('a bad --retain is one usage line (exit 2)', () => {
  for (const [rule, said] of [
    ['logs.>', /invalid --retain 'logs\.>': expected PATTERN:LIMIT/],
    [':messages=5', /'' is not a topic in which/],
    ['logs..x:messages=5', /'logs\.\.x' is not a topic in which/],
    ['logs.>:messages=-1', /'messages=-1': expected PATTERN:LIMIT/],
    ['logs.>:age=5', /'age=5'/],
    ['logs.>:', /'': expected/],
  ] as const) {
    assert.throws(() => parseRetentionRule(rule, SERVER), (e: Error & { exitCode?: number }) => said.test(e.message) && e.exitCode === 2, rule);
  }
});

test('a topic has the retention of the first rule that names it, else the server’s', () => {
  const rules = [parseRetentionRule('logs.db:messages=1', SERVER), parseRetentionRule('logs.>:messages=2', SERVER)];
  assert.equal(retentionOf('logs.db', SERVER, rules).messages, 1);
  assert.equal(retentionOf('logs.web', SERVER, rules).messages, 2);
  assert.equal(retentionOf('chat.ops', SERVER, rules), SERVER);
  assert.equal(retentionOf('main', SERVER), SERVER);
});
