// Encrypted sessions as a user meets them: nothing readable on the wire, the server's key checked, and
// captured datagrams (altered or not, from the session's address or another) changing nothing in the log.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LossyProxy } from './lossy-proxy.js';
import { metric, scrape, startWatchedServer } from './monitoring.js';
import { lines, run, sleep, start, startServer, startServerToRestart, waitFor, type Server } from './processes.js';
import { ensureCommand } from './system-tools.js';

const NO_FAULTS = { loss: 0, duplicate: 0, reorder: 0, reorderMs: 0 };
const fingerprintOf = (base64Key: string): string => `SHA256:${createHash('sha256').update(Buffer.from(base64Key, 'base64')).digest('base64').replace(/=+$/, '')}`;
const serverKeyOf = (s: Server): string => /"serverKey":"(SHA256:[^"]+)"/.exec(s.stderr())![1]!;

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'relay-enc-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * tcpdump on loopback for one port (UDP and TCP), written to a file; resolves once it listens. Immediate
 * mode hands each packet over as it comes (buffered, those still in the kernel's buffer when tcpdump is
 * stopped are lost).
 */
async function capture(port: number, file: string): Promise<{ stop(): Promise<Buffer> }> {
  // tcpdump run by root drops to its own user, which cannot write into the test's private directory: -Z root keeps it.
  const asRoot = process.getuid?.() === 0 ? ['-Z', 'root'] : [];
  const p = spawn('tcpdump', ['-i', 'lo', '-U', '--immediate-mode', '-s', '0', ...asRoot, '-w', file, `port ${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  for (let t = 0; !/listening on/.test(err); t += 50) {
    if (t > 10_000 || p.exitCode !== null) throw new Error(`tcpdump did not start: ${err}`);
    await sleep(50);
  }
  return {
    stop: async () => {
      await sleep(200);
      p.kill('SIGINT');
      await once(p, 'close');
      return readFileSync(file);
    },
  };
}

describe('what crosses the wire', () => {
  before(() => ensureCommand('tcpdump', 'tcpdump'));

  /** A writer and a reader through a server, recorded: the capture, and what the reader printed. */
  async function session(serverArgs: string[], clientArgs: string[], secrets: { alice?: string; bob?: string }, name: string) {
    const server = await startServer(serverArgs);
    const cap = await capture(server.port, join(dir, `${name}.pcap`));
    const marker = `MARKER-${randomBytes(8).toString('hex')}`;
    const text = `${marker}\n${lines(1, 200)}the quick brown fox jumps over the lazy dog\n`;
    const p = ['--port', String(server.port), ...clientArgs];
    const w = await run('run-writer', ['-u', 'alice', ...p], text, secrets.alice === undefined ? {} : { RELAY_SECRET: secrets.alice });
    assert.equal(w.code, 0, w.stderr);
    const r = await run('run-reader', ['-u', 'bob', ...p, '--from', 'earliest', '--once', '--format', 'raw'], '', secrets.bob === undefined ? {} : { RELAY_SECRET: secrets.bob });
    const pcap = await cap.stop();
    await server.stop();
    return { pcap, marker, read: r };
  }

  test('open and authenticated mode: no marker line, no message text, no secret in a capture of loopback; in plain text all of it', async () => {
    const users = join(dir, 'users.json');
    const hash = (name: string, secret: string) => run('run-server', ['--hash-secret', name], `${secret}\n`);
    const [a, b] = await Promise.all([hash('alice', 'correct horse battery'), hash('bob', 'staple-staple-staple')]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(a.stderr, '', 'quiet');
    assert.match(a.stdout, /^\{"alice":"\$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+"\}\n$/);
    writeFileSync(users, JSON.stringify({ ...JSON.parse(a.stdout), ...JSON.parse(b.stdout) }));
    chmodSync(users, 0o600);
    assert.equal(readFileSync(users, 'utf8').includes('correct horse'), false, 'no secret at rest');

    const runs = [
      { name: 'open', serverArgs: [], clientArgs: [], secrets: {} },
      { name: 'authenticated', serverArgs: ['--users', users], clientArgs: [], secrets: { alice: 'correct horse battery', bob: 'staple-staple-staple' } },
    ];
    for (const r of runs) {
      const { pcap, marker, read } = await session(r.serverArgs, r.clientArgs, r.secrets, r.name);
      assert.equal(read.code, 0, read.stderr);
      assert.ok(read.stdout.startsWith(`${marker}\n`) && read.stdout.includes('quick brown fox'), `${r.name}: the reader got the lines`);
      assert.ok(pcap.length > 5_000, `${r.name}: ${pcap.length} bytes captured`);
      for (const secret of [marker, 'quick brown fox', 'lazy dog', 'correct horse', 'staple-staple']) {
        assert.equal(pcap.includes(Buffer.from(secret)), false, `${r.name}: "${secret}" is in the capture`);
      }
    }
    // The capture itself works: in plain text the same session shows everything.
    const plain = await session(['--insecure-plaintext'], ['--insecure-plaintext'], {}, 'plain');
    assert.equal(plain.read.code, 0, plain.read.stderr);
    assert.ok(plain.pcap.includes(Buffer.from(plain.marker)) && plain.pcap.includes(Buffer.from('quick brown fox')));
  });
});

describe("the server's key", () => {
  test('remembered on first contact, checked after: a changed key or a wrong pin is refused with a clear line, exit 4', async () => {
    const config = join(dir, 'config');
    const env = { XDG_CONFIG_HOME: config };
    const first = await startServerToRestart(['--store', 'sqlite', '--data-dir', join(dir, 'd1')]);
    const port = String(first.port);
    const p = ['--port', port];
    assert.match(first.stderr(), /made a new server key in .*server-key\.pem/);
    assert.match(first.stderr(), /listening on .*, key SHA256:[A-Za-z0-9+/]{43}/);
    const ok = await run('run-writer', ['-u', 'w', ...p], 'one\n', env);
    assert.equal(ok.code, 0, ok.stderr);
    const known = readFileSync(join(config, 'udp-relay', 'known_servers'), 'utf8');
    const [server, key] = known.trim().split(' ');
    assert.equal(server, `127.0.0.1:${port}`);
    assert.equal(fingerprintOf(key!), serverKeyOf(first), 'the key the server printed');
    const pinned = serverKeyOf(first);
    await first.stop();

    // Started again on its data directory: the same key, nothing said.
    const again = await startServer(['--store', 'sqlite', '--data-dir', join(dir, 'd1'), '--port', port]);
    assert.equal(serverKeyOf(again), pinned);
    assert.equal(/made a new server key/.test(again.stderr()), false);
    assert.equal((await run('run-writer', ['-u', 'w', ...p], 'two\n', env)).code, 0);
    await again.stop();

    // Another server on that port: another key.
    const other = await startServer(['--store', 'memory', '--data-dir', join(dir, 'd2'), '--port', port]);
    const changed = await run('run-writer', ['-u', 'w', ...p], 'three\n', env);
    assert.equal(changed.code, 4);
    assert.equal(changed.stderr.trim().split('\n').length, 1, changed.stderr);
    assert.match(changed.stderr, new RegExp(`server 127\\.0\\.0\\.1:${port} shows a key that CHANGED .*remove line 1 of .*known_servers`));
    const wrongPin = await run('run-reader', ['-u', 'r', ...p, '--once', '--server-key', pinned], '', { XDG_CONFIG_HOME: join(dir, 'fresh') });
    assert.equal(wrongPin.code, 4);
    assert.match(wrongPin.stderr, /shows key SHA256:.*not the one pinned with --server-key/);
    const rightPin = await run('run-writer', ['-u', 'w', ...p, '--server-key', serverKeyOf(other)], 'four\n', env);
    assert.equal(rightPin.code, 0, 'a pinned key is checked instead of known_servers');
    const byEnv = await run('run-writer', ['-u', 'w', ...p], 'five\n', { ...env, RELAY_SERVER_KEY: serverKeyOf(other) });
    assert.equal(byEnv.code, 0, byEnv.stderr);
    const notAKey = await run('run-writer', ['-u', 'w', ...p, '--server-key', 'abc'], 'x\n');
    assert.equal(notAKey.code, 2);
    await other.stop();
  });

  test('--key-file: made where it is asked for when missing, and the same key for every server given it', async () => {
    const file = join(dir, 'shared-relay.pem');
    const a = await startServer(['--key-file', file]);
    assert.match(a.stderr(), new RegExp(`made a new server key in ${file.replace(/[.]/g, '\\.')}`));
    const b = await startServer(['--key-file', file]);
    assert.equal(serverKeyOf(b), serverKeyOf(a));
    assert.equal(/made a new server key/.test(b.stderr()), false);
    const both = `127.0.0.1:${a.port},127.0.0.1:${b.port}`;
    const w = await run('run-writer', ['-u', 'w', '--address', both, '--server-key', serverKeyOf(a)], 'x\n');
    assert.equal(w.code, 0, w.stderr);
    await Promise.all([a.stop(), b.stop()]);
  });

  test('plain text on one side only: refused, with a line that says which side and what to do', async () => {
    const encrypted = await startServer();
    const plainClient = await run('run-writer', ['-u', 'w', '--port', String(encrypted.port), '--insecure-plaintext'], 'x\n');
    assert.equal(plainClient.code, 4);
    assert.match(plainClient.stderr, /refused by the server: this server encrypts every session/);
    await encrypted.stop();
    const plain = await startServer(['--insecure-plaintext']);
    assert.match(plain.stderr(), /--insecure-plaintext: nothing is encrypted/);
    assert.match(plain.stderr(), /NOT ENCRYPTED/);
    const client = await run('run-writer', ['-u', 'w', '--port', String(plain.port)], 'x\n');
    assert.equal(client.code, 4);
    assert.equal(client.stderr.trim(), `run-writer: the server at 127.0.0.1:${plain.port} does not encrypt (it runs with --insecure-plaintext); to talk to it in plain text, give --insecure-plaintext too`);
    const secretInPlain = await run('run-writer', ['-u', 'w', '--port', String(plain.port), '--insecure-plaintext', '--secret', 's'], 'x\n');
    assert.equal(secretInPlain.code, 2);
    assert.match(secretInPlain.stderr, /--secret needs encryption/);
    await plain.stop();
    const usersInPlain = await run('run-server', ['--insecure-plaintext', '--users', join(dir, 'none.json')]);
    assert.equal(usersInPlain.code, 2);
    assert.match(usersInPlain.stderr, /--users needs encryption/);
  });
});

describe('captured datagrams sent again', () => {
  test('replayed, altered, or from another address: nothing changes in the log; the server counts them and does no public-key work for them', async () => {
    const server = await startWatchedServer();
    const proxy = new LossyProxy(server.port, NO_FAULTS);
    await proxy.start();
    proxy.record = true;
    const writer = start('run-writer', ['-u', 'w', '--port', String(proxy.port), '--log-level', 'info']);
    writer.proc.stdin!.write(lines(1, 20));
    await waitFor(writer, /registered|connected|signed on/i).catch(() => undefined);
    const p = ['--port', String(server.port)];
    const count = async (): Promise<number> => {
      const r = await run('run-reader', ['-u', 'r', ...p, '--from', 'earliest', '--once', '--format', 'raw']);
      return r.stdout.split('\n').filter(Boolean).length;
    };
    for (let t = 0; (await count()) < 20 && t < 50; t++) await sleep(100);
    proxy.record = false;
    const captured = [...proxy.recorded];
    assert.ok(captured.length >= 3, `${captured.length} datagrams captured`);
    const before = await scrape(server.http);
    const keyOps = metric(before, 'relay_public_key_operations_total')!;

    // From the writer's own address, while its session lives: each datagram again, then each with one byte flipped.
    proxy.resend(captured);
    const flipped = captured.flatMap((d) => [4, 12, 16, 20, d.length - 1, Math.floor(d.length / 2)].map((i) => {
      const f = Buffer.from(d);
      f[i % f.length] = f[i % f.length]! ^ 0x01;
      return f;
    }));
    proxy.resend(flipped);
    // From another address.
    const stranger = createSocket('udp4');
    await new Promise<void>((r) => stranger.bind(0, '127.0.0.1', r));
    for (const d of [...captured, ...flipped]) stranger.send(d, server.port, '127.0.0.1');
    await sleep(800);
    stranger.close();

    const r = await run('run-reader', ['-u', 'r2', ...p, '--from', 'earliest', '--once', '--format', 'raw']);
    assert.equal(r.stdout, lines(1, 20), 'every line once, in order, nothing more');
    const afterText = await scrape(server.http);
    assert.ok(metric(afterText, 'relay_datagrams_forged_total')! > metric(before, 'relay_datagrams_forged_total')!, 'counted as forged');
    // The captured HELLOs sent again cost at most their own handshake's work (the cookie stands for a while); none more.
    assert.ok(metric(afterText, 'relay_public_key_operations_total')! - keyOps <= 3 + 3, `${metric(afterText, 'relay_public_key_operations_total')! - keyOps} operations`);

    writer.proc.stdin!.end(lines(21, 22));
    const w = await writer.done;
    assert.equal(w.code, 0, w.stderr);
    const all = await run('run-reader', ['-u', 'r3', ...p, '--from', 'earliest', '--once', '--format', 'raw']);
    assert.equal(all.stdout, lines(1, 22), 'the writer went on as if nothing had happened');
    await proxy.stop();
    await server.stop();
  });
});
