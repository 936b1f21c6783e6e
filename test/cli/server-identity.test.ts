import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { keyPairOf, noiseCrypto } from '../../src/io/noise-crypto.js';
import { KnownServers, knownServersPath } from '../../src/cli/known-servers.js';
import { fingerprint, loadServerKey, parseServerKeyPin } from '../../src/cli/server-identity.js';
import { ensureCommand } from '../e2e/system-tools.js';

const dir = mkdtempSync(join(tmpdir(), 'relay-identity-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('the server key file', () => {
  test('made on first start, readable by its owner only, and the same key on every start after', () => {
    const path = join(dir, 'server-key.pem');
    const first = loadServerKey(path, true);
    assert.equal(first.created, true);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.match(readFileSync(path, 'utf8'), /^-----BEGIN PRIVATE KEY-----\n/);
    const again = loadServerKey(path, true);
    assert.equal(again.created, false);
    assert.deepEqual(again.keys, first.keys);
    assert.deepEqual(keyPairOf(first.keys.privateKey).publicKey, first.keys.publicKey);
    assert.deepEqual(readdirSync(dir), ['server-key.pem'], 'nothing left beside it');
    // A DH with it works: the key is a real X25519 key.
    const peer = noiseCrypto.generateKeyPair();
    assert.deepEqual(noiseCrypto.dh(first.keys.privateKey, peer.publicKey), noiseCrypto.dh(peer.privateKey, first.keys.publicKey));
  });

  test('a key made with openssl is taken as it is', () => {
    const path = join(dir, 'openssl.pem');
    ensureCommand('openssl', 'openssl');
    execFileSync('openssl', ['genpkey', '-algorithm', 'X25519', '-out', path], { stdio: 'ignore' });
    chmodSync(path, 0o600);
    const raw = execFileSync('openssl', ['pkey', '-in', path, '-pubout', '-outform', 'DER']).subarray(-32);
    assert.deepEqual(loadServerKey(path, false).keys.publicKey, raw);
  });

  test('refused with exit 7 and one line: missing (a --key-file), readable by others, not a key, another kind of key', () => {
    const refused = (path: string, create: boolean, why: RegExp) =>
      assert.throws(() => loadServerKey(path, create), (e: Error & { exitCode?: number }) => e.exitCode === 7 && why.test(e.message) && !e.message.includes('\n'));
    refused(join(dir, 'none.pem'), false, /no such file/);
    const open = join(dir, 'open.pem');
    loadServerKey(open, true);
    chmodSync(open, 0o644);
    refused(open, true, /readable by others \(mode 644\)/);
    const junk = join(dir, 'junk.pem');
    writeFileSync(junk, 'not a key', { mode: 0o600 });
    refused(junk, true, /not a PEM private key/);
    const ed = join(dir, 'ed.pem');
    ensureCommand('openssl', 'openssl');
    execFileSync('openssl', ['genpkey', '-algorithm', 'ED25519', '-out', ed], { stdio: 'ignore' });
    chmodSync(ed, 0o600);
    refused(ed, true, /an ed25519 key, not an X25519 one/);
    refused(dir, true, /not a file/);
    refused(join(dir, 'no-such-dir', 'key.pem'), true, /cannot be written: ENOENT/);
  });

  test('fingerprints are SHA256: and 43 characters; a pin that is not one is a usage error', () => {
    const f = fingerprint(Buffer.alloc(32, 7));
    assert.match(f, /^SHA256:[A-Za-z0-9+/]{43}$/);
    assert.equal(parseServerKeyPin(f), f);
    assert.throws(() => parseServerKeyPin('SHA256:short'), (e: Error & { exitCode?: number }) => e.exitCode === 2);
    assert.throws(() => parseServerKeyPin(Buffer.alloc(32).toString('base64')), /not a key fingerprint/);
  });
});

describe('known servers (trust on first use)', () => {
  const a = noiseCrypto.generateKeyPair().publicKey;
  const b = noiseCrypto.generateKeyPair().publicKey;

  test('a server met first is remembered (once its handshake succeeds) in a file only its owner reads; the same key is known after; a changed one is refused with exit 4', () => {
    const path = join(dir, 'cfg', 'udp-relay', 'known_servers');
    const known = new KnownServers(path);
    assert.deepEqual(known.check('127.0.0.1:4000', a), { ok: true, firstContact: true });
    assert.equal(existsSync(path), false, 'nothing written before the handshake succeeds');
    known.remember('127.0.0.1:4000', a);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'cfg', 'udp-relay')).mode & 0o777, 0o700);
    assert.deepEqual(known.check('127.0.0.1:4000', a), { ok: true, firstContact: false });
    assert.deepEqual(known.check('127.0.0.1:4001', b), { ok: true, firstContact: true });
    known.remember('127.0.0.1:4001', b);
    known.remember('127.0.0.1:4001', a);
    const later = new KnownServers(path);
    assert.deepEqual(later.check('127.0.0.1:4000', a), { ok: true, firstContact: false });
    const changed = later.check('127.0.0.1:4000', b);
    assert.equal(changed.ok, false);
    assert.equal(!changed.ok && changed.error.exitCode, 4);
    assert.match(!changed.ok ? changed.error.message : '', new RegExp(`CHANGED \\(now ${fingerprint(b).replace(/[+/]/g, '\\$&')}\\).*remove line 1 of ${path}`));
    assert.equal(readFileSync(path, 'utf8').split('\n').length, 3, 'two lines; the changed key is not written');
  });

  test('a pinned key is checked instead; comments, blank lines and a last line without its end are fine', () => {
    const path = join(dir, 'pinned');
    writeFileSync(path, `# servers\n\n10.0.0.1:4000 ${a.toString('base64')}`);
    const known = new KnownServers(path);
    assert.deepEqual(known.check('10.0.0.1:4000', a), { ok: true, firstContact: false });
    assert.deepEqual(known.check('10.0.0.2:4000', b, fingerprint(b)), { ok: true, firstContact: false });
    const wrong = known.check('10.0.0.2:4000', b, fingerprint(a));
    assert.equal(!wrong.ok && wrong.error.exitCode, 4);
    assert.match(!wrong.ok ? wrong.error.message : '', /not the one pinned with --server-key/);
    assert.deepEqual(known.check('10.0.0.3:4000', b), { ok: true, firstContact: true });
    known.remember('10.0.0.3:4000', b);
    assert.equal(readFileSync(path, 'utf8'), `# servers\n\n10.0.0.1:4000 ${a.toString('base64')}\n10.0.0.3:4000 ${b.toString('base64')}\n`);
    const changed = known.check('10.0.0.3:4000', a);
    assert.match(!changed.ok ? changed.error.message : '', /remove line 4 of/);
  });

  test('the file is in the user\'s config directory', () => {
    assert.equal(knownServersPath({ XDG_CONFIG_HOME: '/cfg' }), '/cfg/udp-relay/known_servers');
    assert.match(knownServersPath({ XDG_CONFIG_HOME: 'relative' }), /\.config\/udp-relay\/known_servers$/);
  });
});
