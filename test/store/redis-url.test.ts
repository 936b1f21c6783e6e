import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isRedisSpec, parseRedisSpec } from '../../src/store/redis-url.js';
import { StoreOpenError } from '../../src/store/store-errors.js';

test('one Redis: the prefix comes off the URL; the rest is the client\'s, credentials kept but not shown', () => {
  assert.deepEqual(parseRedisSpec('redis://u:pw@10.0.0.5:6380/2?prefix=ops'), {
    cluster: false,
    urls: ['redis://u:pw@10.0.0.5:6380/2'],
    prefix: 'ops',
    where: '10.0.0.5:6380/2',
  });
  assert.equal(parseRedisSpec('rediss://cache:6379').prefix, 'relay');
});

test('a cluster: any of its nodes, each a URL with the credentials and the scheme (TLS too); the prefix comes off', () => {
  assert.deepEqual(parseRedisSpec('redis+cluster://u:pw@127.0.0.1:7001,127.0.0.1:7002/?prefix=ops'), {
    cluster: true,
    urls: ['redis://u:pw@127.0.0.1:7001', 'redis://u:pw@127.0.0.1:7002'],
    prefix: 'ops',
    where: 'cluster 127.0.0.1:7001,127.0.0.1:7002',
  });
  assert.deepEqual(parseRedisSpec('rediss+cluster://node-a:7001').urls, ['rediss://node-a:7001']);
  assert.equal(parseRedisSpec('redis+cluster://[::1]:7001').where, 'cluster [::1]:7001');
});

test('what is not a store URL is one clear error', () => {
  const refused = (spec: string, said: RegExp): void =>
    assert.throws(() => parseRedisSpec(spec), (e: unknown) => e instanceof StoreOpenError && said.test(e.message), spec);
  refused('redis+cluster://', /invalid redis cluster URL/);
  refused('redis+cluster://a:7001,', /invalid redis cluster URL/);
  refused('redis+cluster://a', /invalid redis cluster URL/);
  refused('redis://a:1?prefix=a:b', /invalid prefix 'a:b'/);
  refused('redis+cluster://a:7001?prefix=', /invalid prefix ''/);
  refused('http://a:1', /expected redis:\/\/host:port/);
});

test('which --store values are redis', () => {
  assert.deepEqual(['redis://a:1', 'rediss://a:1', 'redis+cluster://a:1', 'rediss+cluster://a:1', 'sqlite', 'memory', 'redis:a'].map(isRedisSpec), [true, true, true, true, false, false, false]);
});
