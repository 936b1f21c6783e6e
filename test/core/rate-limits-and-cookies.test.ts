import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { AddressCookies } from '../../src/core/server/address-cookies.js';
import { HandshakeLimiter, TokenBucket } from '../../src/core/server/rate-limits.js';

describe('token bucket', () => {
  test('a full second\u2019s allowance at the start; a datagram may overdraw it, and the debt is waited out', () => {
    const b = new TokenBucket(10, 0);
    assert.equal(b.idle(0), true, 'full');
    assert.equal(b.take(4, 0), true);
    assert.equal(b.idle(0), false);
    assert.equal(b.waitMs(0), 0, 'tokens left');
    assert.equal(b.take(8, 0), true, 'more than is left, but some is left');
    assert.equal(b.take(1, 0), false, 'in debt: 2 tokens');
    assert.equal(b.waitMs(0), 300, 'back to one token after 3/10 s');
    assert.equal(b.take(1, 200), false);
    assert.equal(b.waitMs(200), 100);
    assert.equal(b.take(1, 301), true);
  });
  test('an empty bucket (exactly 0) waits for one token', () => {
    const b = new TokenBucket(10, 0);
    assert.equal(b.take(10, 0), true);
    assert.equal(b.take(1, 0), false);
    assert.equal(b.waitMs(0), 100);
  });
  test('refill is capped at one second\u2019s allowance, however long the pause', () => {
    const b = new TokenBucket(10, 0);
    b.take(10, 0);
    assert.equal(b.idle(60_000), true);
    assert.equal(b.take(10, 60_000), true);
    assert.equal(b.take(1, 60_000), false, 'no credit saved up from the pause');
  });
  test('a clock that steps back adds nothing', () => {
    const b = new TokenBucket(10, 1_000);
    b.take(10, 1_000);
    assert.equal(b.take(1, 500), false);
    assert.equal(b.take(1, 1_100), true, 'refilled from the last time seen');
  });
});

describe('handshake limiter', () => {
  test('per host; 0 means no limit', () => {
    const off = new HandshakeLimiter(0);
    for (let i = 0; i < 100; i++) assert.equal(off.allow('h', 0), true);
    assert.equal(off.size, 0, 'no buckets kept when there is no limit');
    const l = new HandshakeLimiter(2);
    assert.equal(l.allow('a', 0), true);
    assert.equal(l.allow('a', 0), true);
    assert.equal(l.allow('a', 0), false);
    assert.equal(l.allow('b', 0), true, 'another host has its own bucket');
    assert.equal(l.size, 2);
    assert.equal(l.allow('a', 600), true, 'refilled');
  });
  test('sweep drops the buckets that are full again, and only those', () => {
    const l = new HandshakeLimiter(2);
    l.allow('a', 0);
    l.allow('b', 400);
    l.sweep(500);
    assert.equal(l.size, 1, 'a is full again (500 ms at 2/s), b is not');
    l.sweep(900);
    assert.equal(l.size, 0);
  });
});

describe('address cookies', () => {
  const mac = (k: Buffer, d: Buffer): Buffer => createHmac('sha256', k).update(d).digest();
  test('a cookie is good for its address and nonce, in its 30 s slot and the next', () => {
    const c = new AddressCookies(() => randomBytes(32), mac);
    const cookie = c.make('1.2.3.4|5', 7, 60_000);
    assert.equal(cookie.length, 16);
    assert.equal(c.valid(cookie, '1.2.3.4|5', 7, 60_000), true);
    assert.equal(c.valid(cookie, '1.2.3.4|6', 7, 60_000), false, 'another address');
    assert.equal(c.valid(cookie, '1.2.3.4|5', 8, 60_000), false, 'another nonce');
    assert.equal(c.valid(cookie, '1.2.3.4|5', 7, 119_999), true, 'the next slot');
    assert.equal(c.valid(cookie, '1.2.3.4|5', 7, 120_000), false, 'two slots on');
    assert.equal(c.valid(cookie, '1.2.3.4|5', 7, 59_999), false, 'the slot before it was made');
    assert.equal(c.valid(cookie.subarray(0, 15), '1.2.3.4|5', 7, 60_000), false, 'a short cookie');
    assert.equal(c.valid(Buffer.concat([cookie, Buffer.alloc(1)]), '1.2.3.4|5', 7, 60_000), false, 'a long cookie');
  });
  test('the secret changes every 10 minutes; a cookie made just before still holds, for its slots', () => {
    let n = 0;
    const keys: Buffer[] = [];
    const c = new AddressCookies(() => {
      n++;
      const k = randomBytes(32);
      keys.push(k);
      return k;
    }, mac);
    c.make('a', 1, 0);
    assert.equal(n, 1);
    const late = c.make('a', 1, 599_999);
    assert.equal(n, 1, 'not yet ten minutes');
    const fresh = c.make('a', 1, 600_000);
    assert.equal(n, 2, 'a new secret at ten minutes');
    assert.equal(c.valid(late, 'a', 1, 600_000), true, 'made with the old secret in the slot before');
    assert.equal(c.valid(fresh, 'a', 1, 600_001), true);
    c.make('a', 1, 1_199_999);
    assert.equal(n, 2);
    c.make('a', 1, 1_200_000);
    assert.equal(n, 3, 'the next change ten minutes after the last');
    assert.equal(c.valid(late, 'a', 1, 1_200_000), false, 'two secrets ago');
  });
});
