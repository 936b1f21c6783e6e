import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { hashSecret, parseVerifier, VerifiedUsers } from '../../src/cli/secret-verifiers.js';
import { loadUsers } from '../../src/cli/users-file.js';

const dir = mkdtempSync(join(tmpdir(), 'relay-users-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, content: unknown, mode = 0o600): string => {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  chmodSync(path, mode);
  return path;
};

describe('secret verifiers', () => {
  const verifier = hashSecret('correct horse');

  test('a verifier is salted scrypt in the PHC format, and another each time', () => {
    assert.match(verifier, /^\$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    assert.notEqual(hashSecret('correct horse'), verifier, 'a fresh salt');
    assert.equal(verifier.includes('correct'), false);
    const v = parseVerifier(verifier);
    assert.ok(v && v !== 'bad' && v.logN === 15 && v.r === 8 && v.p === 1 && v.salt.length === 16 && v.hash.length === 32);
  });

  test('what is not a verifier: a plain secret (undefined), or one that starts like one and is not (bad)', () => {
    assert.equal(parseVerifier('correct horse'), undefined);
    for (const bad of ['$scrypt$', '$scrypt$ln=15,r=8,p=1$abc', '$scrypt$ln=9,r=8,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA', '$scrypt$ln=21,r=8,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA', '$scrypt$ln=15,r=0,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA', '$scrypt$ln=15,r=8,p=0$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA', '$scrypt$ln=15,r=8,p=1$AAAA$AAAAAAAAAAAAAAAAAAAAAA', '$scrypt$ln=15,r=8,p=1$AAAAAAAAAAA$AAAA']) {
      assert.equal(parseVerifier(bad), 'bad', bad);
    }
  });

  test('users are checked against verifiers and plain secrets alike; each outcome is remembered, not computed again', () => {
    const v = parseVerifier(verifier);
    assert.ok(v && v !== 'bad');
    const users = new VerifiedUsers(new Map<string, typeof v | Buffer>([['alice', v], ['bob', Buffer.from('battery staple')]]));
    assert.equal(users.size, 2);
    assert.equal(users.has('alice'), true);
    assert.equal(users.has('carol'), false);
    const t0 = performance.now();
    assert.equal(users.verify('alice', Buffer.from('correct horse')), true);
    const first = performance.now() - t0;
    const t1 = performance.now();
    for (let i = 0; i < 20; i++) assert.equal(users.verify('alice', Buffer.from('correct horse')), true);
    assert.ok((performance.now() - t1) / 20 < first / 5, 'remembered: no scrypt again');
    assert.equal(users.verify('alice', Buffer.from('correct horsE')), false);
    assert.equal(users.verify('alice', Buffer.from('battery staple')), false);
    assert.equal(users.verify('bob', Buffer.from('battery staple')), true);
    assert.equal(users.verify('bob', Buffer.from('battery stapl')), false);
    assert.equal(users.verify('carol', Buffer.from('x')), false);
  });
});

test('new scrypt checks are bounded per second, all users together; what is remembered, and plain secrets, are not counted', () => {
  const v = parseVerifier(hashSecret('s'));
  assert.ok(v && v !== 'bad');
  let now = 5_000;
  const users = new VerifiedUsers(new Map<string, typeof v | Buffer>([['alice', v], ['bob', Buffer.from('b')]]), () => now, 2);
  assert.equal(users.verify('alice', Buffer.from('s')), true);
  assert.equal(users.verify('alice', Buffer.from('guess 1')), false);
  assert.equal(users.verify('alice', Buffer.from('guess 2')), 'busy', 'the third new check this second');
  assert.equal(users.verify('alice', Buffer.from('s')), true, 'remembered: no check');
  assert.equal(users.verify('alice', Buffer.from('guess 1')), false, 'remembered too');
  assert.equal(users.verify('bob', Buffer.from('b')), true, 'a plain secret costs no scrypt');
  now = 5_999;
  assert.equal(users.verify('alice', Buffer.from('guess 2')), 'busy');
  now = 6_000;
  assert.equal(users.verify('alice', Buffer.from('guess 2')), false, 'the next second');
});

describe('the users file', () => {
  test('verifiers and, from older versions, plain secrets; the plain ones are named; others reading it is noticed', () => {
    const u = loadUsers(file('mixed.json', { alice: hashSecret('a'), bob: 'b-secret' }, 0o644));
    assert.equal(u.users.size, 2);
    assert.deepEqual(u.plain, ['bob']);
    assert.equal(u.exposed, true);
    assert.equal(u.users.verify('alice', Buffer.from('a')), true);
    assert.equal(u.users.verify('bob', Buffer.from('b-secret')), true);
    assert.equal(loadUsers(file('private.json', { alice: hashSecret('a') })).exposed, false);
  });

  test('an entry may limit the topics its user reads and writes (patterns); either list left out is every topic', () => {
    const u = loadUsers(file('rights.json', { alice: hashSecret('a'), bob: { secret: 'b-secret', read: ['logs.>', 'main'], write: [] }, carol: { secret: 'c', write: ['chat.*'] } }));
    assert.equal(u.users.verify('bob', Buffer.from('b-secret')), true);
    assert.equal(u.users.rights('alice'), undefined);
    assert.deepEqual(u.users.rights('bob'), { read: ['logs.>', 'main'], write: [] });
    assert.deepEqual(u.users.rights('carol'), { write: ['chat.*'] });
  });

  test('what cannot be used is one usage line (exit 2)', () => {
    const refused = (path: string, message: RegExp) =>
      assert.throws(() => loadUsers(path), (e: Error & { exitCode?: number }) => message.test(e.message) && e.exitCode === 2, message.source);
    refused(join(dir, 'missing.json'), /cannot read --users .*ENOENT/);
    refused(file('not-json', '{'), /is not JSON/);
    refused(file('array.json', []), /must hold a JSON object of name to verifier/);
    refused(file('empty.json', {}), /names no users/);
    refused(file('bad-name.json', { 'no spaces': 'x' }), /bad user name 'no spaces'/);
    refused(file('empty-secret.json', { alice: '' }), /the entry of alice must be a non-empty string/);
    refused(file('number.json', { alice: 5 }), /the entry of alice must be a non-empty string/);
    refused(file('bad-verifier.json', { alice: '$scrypt$ln=15' }), /the entry of alice is not a verifier run-server --hash-secret makes/);
    refused(file('long.json', { alice: 'x'.repeat(256) }), /the secret of alice is over 255 bytes/);
    refused(file('no-secret.json', { alice: { read: ['a'] } }), /the entry of alice must be a non-empty string, or an object with one as "secret"/);
    refused(file('read-string.json', { alice: { secret: 'x', read: 'logs.>' } }), /"read" of alice must be a list of topic patterns/);
    refused(file('bad-pattern.json', { alice: { secret: 'x', write: ['logs.>.x'] } }), /"write" of alice has 'logs\.>\.x': expected a topic in which/);
    refused(file('unknown-key.json', { alice: { secret: 'x', admin: true } }), /the entry of alice has "admin": expected "secret", "read" and "write"/);
  });
});
