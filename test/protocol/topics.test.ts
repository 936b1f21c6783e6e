import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { anyMatches, DEFAULT_TOPIC, isPattern, isValidPattern, isValidTopic, TOPIC_BYTES_MAX, topicMatches } from '../../src/protocol/topics.js';

describe('topic names', () => {
  test('dot-separated segments of letters, digits, _ and -', () => {
    for (const ok of ['logs', 'logs.web1', 'chat.ops', 'a.b-c.d_e', DEFAULT_TOPIC, '1.2.3.4.5.6.7.8', 'x'.repeat(TOPIC_BYTES_MAX)]) assert.ok(isValidTopic(ok), ok);
    for (const bad of ['', '.', 'logs.', '.logs', 'logs..web', 'logs.*', 'logs.>', 'a b', 'é', 'logs/web', '1.2.3.4.5.6.7.8.9', 'x'.repeat(TOPIC_BYTES_MAX + 1)]) {
      assert.ok(!isValidTopic(bad), bad);
    }
  });

  test('patterns: * for one segment anywhere, > for one or more, last only', () => {
    for (const ok of ['logs.*', 'logs.>', '*', '>', '*.web.>', 'logs.web1', '*.*']) assert.ok(isValidPattern(ok), ok);
    for (const bad of ['', 'logs.>.x', 'logs.w*', 'logs.>>', 'logs..*', '>.logs', 'a.b.c.d.e.f.g.h.i']) assert.ok(!isValidPattern(bad), bad);
    assert.ok(isPattern('logs.*') && isPattern('>') && !isPattern('logs.web'));
  });

  test('matching', () => {
    const cases: [string, string, boolean][] = [
      ['logs.*', 'logs.web1', true],
      ['logs.*', 'logs.web1.errors', false],
      ['logs.*', 'logs', false],
      ['logs.>', 'logs.web1', true],
      ['logs.>', 'logs.web1.errors', true],
      ['logs.>', 'logs', false],
      ['logs.>', 'chat.ops', false],
      ['>', 'anything.at.all', true],
      ['*', 'one', true],
      ['*', 'one.two', false],
      ['*.ops', 'chat.ops', true],
      ['*.ops', 'chat.dev', false],
      ['chat.ops', 'chat.ops', true],
      ['chat.ops', 'chat.ops.x', false],
      ['chat.ops.x', 'chat.ops', false],
      ['logs.*.err', 'logs.web.err', true],
      ['logs.*.err', 'logs.web.warn', false],
    ];
    for (const [p, t, want] of cases) assert.equal(topicMatches(p, t), want, `${p} ~ ${t}`);
    assert.ok(anyMatches(['chat.*', 'logs.>'], 'logs.a.b'));
    assert.ok(!anyMatches(['chat.*', 'logs.>'], 'metrics.cpu'));
    assert.ok(!anyMatches([], 'logs'));
  });
});
