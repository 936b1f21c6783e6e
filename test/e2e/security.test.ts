import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { jsonLines, lines, run, start, startReader, startServer, waitFor, type Server, onceOverUdp, overTransport } from './processes.js';

const oneLine = (stderr: string): string => {
  const ls = stderr.split('\n').filter(Boolean);
  assert.equal(ls.length, 1, `one line on stderr, got: ${stderr}`);
  return ls[0]!;
};

describe(`authenticated mode (--users)${overTransport()}`, () => {
  let dir: string;
  let server: Server;
  let p: string[];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'relay-auth-'));
    const users = join(dir, 'users.json');
    writeFileSync(users, JSON.stringify({ alice: 'correct horse', bob: 'battery staple' }));
    chmodSync(users, 0o644);
    server = await startServer(['--users', users]);
    p = ['--port', String(server.port)];
  });
  after(async () => {
    const s = await server.stop();
    assert.equal(s.code, 0, s.stderr);
    rmSync(dir, { recursive: true, force: true });
  });

  test('the server says it is in authenticated mode, and warns that the users file is readable by others', () => {
    assert.match(server.stderr(), /authenticated mode \(2 users\)/);
    assert.match(server.stderr(), /users file .* can be read or changed by other users: chmod 600/);
    assert.match(server.stderr(), /users file .* holds 2 secret\(s\) as they are \(alice, bob\): replace each with what 'run-server --hash-secret NAME' prints/);
  });

  test('the right secrets relay messages unaltered, the secret given by option or by RELAY_SECRET', async () => {
    const text = 'plain\nwith\ttab\nünïcødé ✓\n\n' + lines(1, 500);
    const reader = await startReader(['-u', 'bob', ...p, '--format', 'json', '--count', String(text.split('\n').length - 1), '--secret', 'battery staple']);
    const w = await run('run-writer', ['-u', 'alice', ...p], text, { RELAY_SECRET: 'correct horse' });
    assert.equal(w.code, 0, w.stderr);
    const r = await reader.done;
    assert.equal(r.code, 0, r.stderr);
    const got = jsonLines(r.stdout).map((m) => m['text']);
    assert.deepEqual(got, text.split('\n').slice(0, -1));
    assert.ok(jsonLines(r.stdout).every((m) => m['from'] === 'alice'));
  });

  test('a wrong secret, an unknown user and no secret are each refused in one line, exit 4', async () => {
    const wrong = await run('run-writer', ['-u', 'alice', ...p, '--secret', 'battery staple'], 'x\n');
    assert.equal(wrong.code, 4);
    assert.match(oneLine(wrong.stderr), /^run-writer: refused by the server: wrong secret for alice$/);
    const unknown = await run('run-reader', ['-u', 'mallory', ...p, '--once'], '', { RELAY_SECRET: 'guess' });
    assert.equal(unknown.code, 4);
    assert.match(oneLine(unknown.stderr), /^run-reader: refused by the server: no user mallory on this server$/);
    const none = await run('run-writer', ['-u', 'alice', ...p], 'x\n');
    assert.equal(none.code, 4);
    assert.match(oneLine(none.stderr), /requires a secret: give --secret or set RELAY_SECRET/);
  });

  test('a second login of the same user takes the session over; the first is told and exits 4', async () => {
    const env = { RELAY_SECRET: 'battery staple' };
    const first = await startReader(['-u', 'bob', ...p], env);
    const second = await startReader(['-u', 'bob', ...p], env);
    const f = await first.done;
    assert.equal(f.code, 4);
    assert.match(f.stderr, /a newer login of bob took over this session/);
    const w = await run('run-writer', ['-u', 'alice', ...p], 'after the takeover\n', { RELAY_SECRET: 'correct horse' });
    assert.equal(w.code, 0, w.stderr);
    await new Promise((r) => setTimeout(r, 300));
    assert.match(second.stdout(), /after the takeover/);
    second.proc.kill('SIGINT');
    assert.equal((await second.done).code, 0);
  });

  test('terminal safety: escape sequences from another user reach a text reader escaped, with no ESC or BEL byte', async () => {
    const reader = await startReader(['-u', 'bob', ...p, '--count', '1', '--secret', 'battery staple']);
    const w = await run('run-writer', ['-u', 'alice', ...p], 'evil\x1b[2J\x1b]0;x\x07end\n', { RELAY_SECRET: 'correct horse' });
    assert.equal(w.code, 0, w.stderr);
    const r = await reader.done;
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes('\x1b') && !r.stdout.includes('\x07'), JSON.stringify(r.stdout));
    assert.match(r.stdout, /alice: evil\\x1b\[2J\\x1b\]0;x\\x07end$/m);
  });

  test('direct messages stay private: a group named after another user is refused, and leaks nothing', async () => {
    const secret = 'for alice only: the launch code is 1234';
    const w = await run('run-writer', ['-u', 'bob', ...p, '--to', 'alice'], `${secret}\n`, { RELAY_SECRET: 'battery staple' });
    assert.equal(w.code, 0, w.stderr);
    const snoop = await run('run-reader', ['-u', 'bob', ...p, '--group', 'alice', '--from', 'earliest', '--once'], '', { RELAY_SECRET: 'battery staple' });
    assert.equal(snoop.code, 4, snoop.stderr);
    assert.equal(snoop.stdout, '');
    assert.match(oneLine(snoop.stderr), /alice is a user: only alice may read what is sent to alice/);
    const alice = await run('run-reader', ['-u', 'alice', ...p, '--from', 'earliest', '--once', '--format', 'raw'], '', { RELAY_SECRET: 'correct horse' });
    assert.ok(alice.stdout.includes(secret), 'alice still gets it');
  });
});

describe(`limits${overTransport()}`, () => {
  let server: Server;
  let p: string[];
  before(async () => {
    server = await startServer(['--message-rate', '2000', '--handshake-rate', '2']);
    p = ['--port', String(server.port)];
  });
  after(async () => {
    await server.stop();
  });

  test('a writer over --message-rate is slowed, told so once, and loses nothing', async () => {
    const w = await run('run-writer', ['-u', 'fast', ...p], lines(1, 6000));
    assert.equal(w.code, 0, w.stderr);
    assert.ok(w.ms >= 1500, `6,000 lines at 2,000/s took ${Math.round(w.ms)} ms`);
    assert.equal(w.stderr.match(/limits this writer to 2000 messages per second/g)?.length, 1, w.stderr);
    const r = await run('run-reader', ['-u', 'check', ...p, '--from', 'earliest', '--format', 'raw', '--count', '6000']);
    assert.equal(r.stdout, lines(1, 6000));
  });

  test('clients over --handshake-rate are told, wait, and get in', async () => {
    const writers = await Promise.all(['h1', 'h2', 'h3', 'h4', 'h5'].map((u) => run('run-writer', ['-u', u, ...p], `${u}\n`)));
    for (const w of writers) assert.equal(w.code, 0, w.stderr);
    assert.ok(writers.some((w) => /too many handshakes from 127\.0\.0\.1 \(limit 2 per second\); trying again/.test(w.stderr)));
  });

  onceOverUdp('a --users file that is missing or malformed stops the server in one line, exit 2', async () => {
    const missing = await run('run-server', ['--port', '0', '--store', 'memory', '--users', '/nonexistent/users.json']);
    assert.equal(missing.code, 2);
    assert.match(oneLine(missing.stderr), /cannot read --users '\/nonexistent\/users.json': ENOENT/);
    const dir = mkdtempSync(join(tmpdir(), 'relay-users-'));
    const bad = join(dir, 'users.json');
    writeFileSync(bad, '["alice"]', { mode: 0o600 });
    const malformed = await run('run-server', ['--port', '0', '--store', 'memory', '--users', bad]);
    assert.equal(malformed.code, 2);
    assert.match(oneLine(malformed.stderr), /must hold a JSON object of name to verifier/);
    writeFileSync(bad, '{"alice": "s"}', { mode: 0o600 });
    const fine = start('run-server', ['--port', '0', '--store', 'memory', '--users', bad]);
    await waitFor(fine, /listening/);
    assert.doesNotMatch(fine.stderr(), /chmod 600/);
    fine.proc.kill('SIGTERM');
    await fine.done;
    rmSync(dir, { recursive: true, force: true });
  });
});
