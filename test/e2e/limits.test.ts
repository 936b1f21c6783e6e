import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { jsonLines, run, sleep, start, startReader, startServer, waitFor } from './processes.js';
import { ensureCommand } from './system-tools.js';

/** Promises of the README that are limits and boundaries, each as a user meets it. */

test('--max-sessions: a client past the limit is refused in one line, exit 4; one leaving makes room', async () => {
  const server = await startServer(['--max-sessions', '2']);
  const p = ['--port', String(server.port)];
  try {
    const a = await startReader(['-u', 'ra', ...p]);
    const b = await startReader(['-u', 'rb', ...p]);
    const c = await run('run-reader', ['-u', 'rc', ...p, '--once']);
    assert.equal(c.code, 4, c.stderr);
    assert.equal(c.stderr, 'run-reader: refused by the server: the server has too many sessions\n');
    a.proc.kill('SIGINT');
    await a.done;
    const d = await run('run-reader', ['-u', 'rd', ...p, '--once']);
    assert.equal(d.code, 6, d.stderr);
    b.proc.kill('SIGINT');
    await b.done;
  } finally {
    await server.stop();
  }
});

test('--max-message-bytes: a line at the limit goes, one byte over does not (exit 5), the others still go', async () => {
  const server = await startServer(['--max-message-bytes', '100']);
  const p = ['--port', String(server.port)];
  try {
    const w = await run('run-writer', ['-u', 'w', ...p], `${'a'.repeat(100)}\n${'b'.repeat(101)}\nshort\n`);
    assert.equal(w.code, 5, w.stderr);
    assert.match(w.stderr, /1 line\(s\) over the size limit were not sent/);
    const r = await run('run-reader', ['-u', 'r', ...p, '--from', 'earliest', '--once', '--format', 'raw']);
    assert.equal(r.stdout, `${'a'.repeat(100)}\nshort\n`);
  } finally {
    await server.stop();
  }
});

test('20,000 empty lines: each is a message, though a datagram holds at most 4,096 of them', async () => {
  const server = await startServer();
  const p = ['--port', String(server.port)];
  try {
    const w = await run('run-writer', ['-u', 'w', ...p, '--timeout', '5'], '\n'.repeat(20_000));
    assert.equal(w.code, 0, w.stderr);
    const r = await run('run-reader', ['-u', 'r', ...p, '--from', 'earliest', '--once', '--format', 'raw']);
    assert.equal(r.stdout, '\n'.repeat(20_000));
  } finally {
    await server.stop();
  }
});

test('--message-rate: a writer over it is slowed, nothing lost; 0 is no limit', async () => {
  // 3,000 lines of 100 bytes: several datagrams even on loopback (a datagram may overdraw the allowance once).
  const text = Array.from({ length: 3_000 }, (_, i) => `${String(i + 1).padStart(5, '0')} ${'x'.repeat(94)}\n`).join('');
  const timed = async (rate: string): Promise<number> => {
    const server = await startServer(['--message-rate', rate]);
    try {
      const w = await run('run-writer', ['-u', 'w', '--port', String(server.port)], text);
      assert.equal(w.code, 0, w.stderr);
      const r = await run('run-reader', ['-u', 'r', '--port', String(server.port), '--from', 'earliest', '--once', '--format', 'raw']);
      assert.equal(r.stdout, text, `rate ${rate}: every line once, in order`);
      return w.ms;
    } finally {
      await server.stop();
    }
  };
  const limited = await timed('1000');
  const free = await timed('0');
  assert.ok(limited >= 1_500, `3,000 lines at 1,000 per second took ${Math.round(limited)} ms`);
  assert.ok(free < limited / 2, `with no limit ${Math.round(free)} ms, limited ${Math.round(limited)} ms`);
});

test('--from ID starts at that id; names of 32 characters are good, of 33 or starting with a dot are usage errors', async () => {
  const server = await startServer();
  const p = ['--port', String(server.port)];
  try {
    await run('run-writer', ['-u', 'a'.repeat(32), ...p], 'one\ntwo\nthree\n');
    const r = await run('run-reader', ['-u', 'from2', ...p, '--from', '2', '--once', '--format', 'json']);
    assert.deepEqual(jsonLines(r.stdout).map((m) => [m['id'], m['from'], m['text']]), [
      [2, 'a'.repeat(32), 'two'],
      [3, 'a'.repeat(32), 'three'],
    ]);
    for (const bad of ['a'.repeat(33), '.hidden', '-dash', 'sp ace']) {
      const w = await run('run-writer', [`--username=${bad}`, ...p], 'x\n');
      assert.equal(w.code, 2, `${bad}: ${w.stderr}`);
      assert.equal(w.stderr.split('\n').filter(Boolean).length, 1, w.stderr);
    }
    const ok = await run('run-writer', ['-u', 'ops@web-1.lan_2', ...p], 'x\n');
    assert.equal(ok.code, 0, ok.stderr);
  } finally {
    await server.stop();
  }
});

test('a secret given to a server in open mode: the client goes on and warns, even off a terminal', async () => {
  const server = await startServer();
  try {
    const w = await run('run-writer', ['-u', 'w', '--port', String(server.port)], 'x\n', { RELAY_SECRET: 's3cret' });
    assert.equal(w.code, 0, w.stderr);
    assert.match(w.stderr, /is in open mode: the secret was not used/);
  } finally {
    await server.stop();
  }
});

test('on a terminal the server logs pretty lines; off one, JSON lines', async () => {
  ensureCommand('tmux', 'tmux');
  const socket = `relay-pretty-${process.pid}`;
  const bin = fileURLToPath(new URL('../../bin/run-server.js', import.meta.url));
  const tmux = (...args: string[]): string => execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
  tmux('new-session', '-d', '-s', 'srv', '-x', '160', '-y', '20', `${process.execPath} ${bin} --port 0 --store memory`);
  try {
    let screen = '';
    for (let i = 0; i < 100 && !/listening on/.test(screen); i++) {
      await sleep(50);
      screen = tmux('capture-pane', '-p', '-t', 'srv');
    }
    assert.match(screen, /\d\d:\d\d:\d\d\.\d{3}.*INFO.*listening on 127\.0\.0\.1:\d+/);
    assert.doesNotMatch(screen, /"level"/);
  } finally {
    tmux('kill-server');
  }
  const piped = start('run-server', ['--port', '0', '--store', 'memory']);
  await waitFor(piped, /listening on/);
  piped.proc.kill('SIGTERM');
  const done = await piped.done;
  assert.ok(jsonLines(done.stderr).some((l) => l['level'] === 30 && /listening on/.test(String(l['msg']))));
});
