import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Authenticator, ReplayGuard } from '../../src/core/server/authenticator.js';
import { NameProbes, PROBE_ANSWER_MS } from '../../src/core/server/name-probes.js';
import { FromKind, RefuseCode, Role } from '../../src/protocol/constants.js';
import type { Hello } from '../../src/protocol/packets.js';

const secrets = new Map([
  ['alice', Buffer.from('a-secret')],
  ['bob', Buffer.from('b-secret')],
]);
const users = { has: (n: string) => secrets.has(n), verify: (n: string, s: Buffer) => secrets.get(n)?.equals(s) === true };
const reader = (name: string, group?: string): Hello => {
  const h = { kind: 'hello', role: Role.Reader, nonce: 3, name, cookie: Buffer.alloc(16, 1), fromKind: FromKind.Latest, fromId: 0 } as Hello;
  if (group !== undefined) (h as Hello & { group?: string }).group = group;
  return h;
};

describe('authenticator', () => {
  test('open mode: every HELLO passes, secret or none, and none is proven', () => {
    const a = new Authenticator(undefined);
    assert.deepEqual(a.check(reader('x'), undefined), { ok: true, proven: false });
    assert.deepEqual(a.check(reader('x'), Buffer.from('anything')), { ok: true, proven: false });
  });
  test('authenticated: the named user\u2019s secret, checked against its verifier', () => {
    const a = new Authenticator(users);
    assert.deepEqual(a.check(reader('alice'), secrets.get('alice')), { ok: true, proven: true });
    const refused = (h: Hello, secret: Buffer | undefined, reason: RegExp) => {
      const r = a.check(h, secret);
      assert.ok(!r.ok && r.code === RefuseCode.Unauthorized && reason.test(r.reason), JSON.stringify(r));
    };
    refused(reader('alice'), undefined, /requires a secret/);
    refused(reader('carol'), Buffer.from('x'), /no user carol/);
    refused(reader('alice'), secrets.get('bob'), /wrong secret for alice/);
  });
  test('a check the users say cannot be made now is a refusal for now (rate limited), not a wrong secret', () => {
    const a = new Authenticator({ has: () => true, verify: () => 'busy' });
    const r = a.check(reader('alice'), Buffer.from('x'));
    assert.ok(!r.ok && r.code === RefuseCode.RateLimited && /too many secrets to check just now/.test(r.reason), JSON.stringify(r));
  });
  test('a group may not bear another user\u2019s name (it would read what is sent to them); a user\u2019s own name or a free one is fine', () => {
    const a = new Authenticator(users);
    const alice = secrets.get('alice');
    const r = a.check(reader('alice', 'bob'), alice);
    assert.ok(!r.ok && /bob is a user/.test(r.reason));
    assert.equal(a.check(reader('alice', 'alice'), alice).ok, true);
    assert.equal(a.check(reader('alice', 'workers'), alice).ok, true);
    assert.equal(a.check(reader('alice'), alice).ok, true);
    // Writers have no group: the rule is for readers.
    const w = { kind: 'hello', role: Role.Writer, nonce: 3, name: 'alice', cookie: Buffer.alloc(16, 1), producerId: 1n, nextSeq: 1 } as Hello;
    assert.equal(a.check(w, alice).ok, true);
  });
});

describe('replay guard', () => {
  test('a nonce seen for a name within 90 s is a replay; another name or nonce is not', () => {
    const g = new ReplayGuard();
    assert.equal(g.replayed('r:alice', 7, 0), false);
    assert.equal(g.replayed('r:alice', 7, 90_000), true, 'at 90 s, still remembered');
    assert.equal(g.replayed('r:alice', 8, 1_000), false);
    assert.equal(g.replayed('w:alice', 7, 1_000), false);
  });
  test('forgotten after 90 s; a sweep drops what is forgotten, and names left with nothing', () => {
    const g = new ReplayGuard();
    g.replayed('r:alice', 7, 0);
    g.replayed('r:bob', 1, 50_000);
    g.sweep(90_000);
    assert.equal(g.replayed('r:alice', 7, 90_000), true, 'a sweep at exactly 90 s keeps it');
    const h = new ReplayGuard();
    h.replayed('r:alice', 7, 0);
    h.replayed('r:bob', 1, 50_000);
    h.sweep(90_001);
    const seen = (h as unknown as { seen: Map<string, Map<number, number>> }).seen;
    assert.deepEqual([...seen.keys()], ['r:bob'], 'alice\u2019s only nonce was dropped, and her entry with it');
    assert.equal(h.replayed('r:alice', 7, 90_001), false);
    assert.equal(h.replayed('r:bob', 1, 90_001), true);
    const late = new ReplayGuard();
    late.replayed('r:alice', 7, 0);
    assert.equal(late.replayed('r:alice', 7, 90_001), false, 'a nonce past the memory is new again');
  });
});

describe('name probes', () => {
  test('the first newcomer asks the holder; it waits while the holder may still answer', () => {
    const p = new NameProbes();
    assert.equal(p.verdict('r:a', undefined, 1_000), 'probe');
    assert.equal(p.size, 1);
    assert.equal(p.verdict('r:a', undefined, 1_000 + PROBE_ANSWER_MS - 1), 'wait');
    assert.equal(p.verdict('r:a', 900, 1_500), 'wait', 'an answer from before the question does not count');
    assert.equal(p.verdict('r:a', undefined, 1_000 + PROBE_ANSWER_MS), 'gone');
    assert.equal(p.size, 0);
    assert.equal(p.verdict('r:a', undefined, 3_000), 'probe', 'a new question after a verdict');
  });
  test('an answer at or after the question keeps the name', () => {
    const p = new NameProbes();
    p.verdict('r:a', undefined, 1_000);
    assert.equal(p.verdict('r:a', 1_000, 1_200), 'held');
    assert.equal(p.size, 0);
  });
  test('a question whose newcomer never came back is forgotten after 10 s', () => {
    const p = new NameProbes();
    p.verdict('r:a', undefined, 0);
    assert.equal(p.verdict('r:a', undefined, 10_000), 'gone', 'at 10 s the question still stands');
    p.verdict('r:b', undefined, 0);
    assert.equal(p.verdict('r:b', undefined, 10_001), 'probe', 'after 10 s it is asked afresh');
    p.verdict('r:c', undefined, 0);
    p.verdict('r:d', undefined, 5_000);
    p.sweep(10_000);
    assert.equal(p.size, 3);
    p.sweep(10_001);
    assert.equal(p.size, 2, 'r:b (asked at 10,001) and r:d stay');
  });
});
