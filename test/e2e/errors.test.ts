import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deadPort, run, sleep, start, startReader, startServer, startServerToRestart, waitFor } from './processes.js';

test('a writer with no server and --timeout 2 exits non-zero within seconds, saying why', async () => {
  const port = await deadPort();
  const r = await run('run-writer', ['-u', 'w', '--port', String(port), '--timeout', '2'], 'lost\nand lost\n');
  assert.equal(r.code, 3);
  assert.ok(r.ms < 6000, `${r.ms} ms`);
  assert.match(r.stderr, /^run-writer: server 127\.0\.0\.1:\d+ is not responding \(no answer within 2 s\); nothing was sent\n$/, 'one line, and only that');
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});

test('run-reader without --username: one line of usage error, exit 2, no stack trace', async () => {
  const r = await run('run-reader', []);
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /^run-reader: .*username/);
});

test('bad values are refused in one line', async () => {
  for (const [cmd, args] of [
    ['run-reader', ['-u', 'r', '--delay', '-1']],
    ['run-reader', ['-u', 'r', '--from', 'yesterday']],
    ['run-reader', ['-u', 'r', '--format', 'xml']],
    ['run-writer', ['-u', 'bad name']],
    ['run-writer', ['-u', 'w', '--port', '70000']],
    ['run-server', ['--host', 'nowhere']],
    ['run-server', ['--frobnicate']],
  ] as const) {
    const r = await run(cmd, [...args]);
    assert.equal(r.code, 2, `${cmd} ${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('--help and --version', async () => {
  for (const cmd of ['run-server', 'run-writer', 'run-reader'] as const) {
    const h = await run(cmd, ['--help']);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /--port/);
    const v = await run(cmd, ['--version']);
    assert.match(v.stdout.trim(), /^\d+\.\d+\.\d+$/);
  }
});

test('the server stops cleanly on SIGINT and frees its port; a busy port is a one-line error', async () => {
  const s = await startServerToRestart();
  assert.match(s.stderr(), /loopback only/);
  const busy = await run('run-server', ['--port', String(s.port), '--store', 'memory']);
  assert.equal(busy.code, 7);
  assert.match(busy.stderr, /already in use/);
  s.proc.kill('SIGINT');
  const r = await s.done;
  assert.equal(r.code, 0);
  const again = await startServer(['--port', String(s.port)]);
  assert.equal(again.port, s.port);
  await again.stop();
});

test('one environment serves every command: RELAY_* variables a command does not take are ignored; flags stay strict', async () => {
  const shared = { RELAY_USERNAME: 'envuser', RELAY_DATA_DIR: '/nonexistent/relay-data', RELAY_HOST: '127.0.0.1', RELAY_DELAY: '0' };
  const server = await startServer([], undefined, shared);
  try {
    const p = ['--port', String(server.port)];
    const w = await run('run-writer', p, 'from a shared environment\n', shared);
    assert.equal(w.code, 0, w.stderr);
    const r = await run('run-reader', [...p, '--from', 'earliest', '--once', '--format', 'raw'], '', shared);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'from a shared environment\n');
    const strict = await run('run-writer', [...p, '-u', 'x', '--data-dir', 'd'], '');
    assert.equal(strict.code, 2);
    assert.match(strict.stderr, /Unknown arguments?: data-dir/);
  } finally {
    await server.stop();
  }
});

test('option checks name what was typed: a bad port, an unknown store, a zero size are usage errors (exit 2); an uncreatable data directory is exit 7', async () => {
  const cases: [('run-server' | 'run-writer' | 'run-reader'), string[], number, RegExp][] = [
    ['run-server', ['--port', 'abc'], 2, /invalid port 'abc'/],
    ['run-writer', ['-u', 'w', '--port', '99999'], 2, /invalid port '99999'/],
    // A mistyped option is named as such, not reported as the required one it was meant to be.
    ['run-writer', ['--usrname', 'w'], 2, /^run-writer: Unknown argument: usrname \(see run-writer --help\)\n$/],
    ['run-reader', ['--port', '1', '--form', 'raw', '--bogus=1'], 2, /^run-reader: Unknown arguments: form, bogus \(see run-reader --help\)\n$/],
    ['run-reader', ['--delay', '-1'], 2, /^run-reader: Missing required argument: username/],
    ['run-server', ['--port', '0', '--store', 'mysql'], 2, /invalid --store 'mysql'/],
    ['run-server', ['--port', '0', '--store', 'memory', '--max-message-bytes', '0'], 2, /invalid --max-message-bytes '0'/],
    ['run-server', ['--port', '0', '--data-dir', '/proc/relaydata'], 7, /cannot create data directory \/proc\/relaydata: \/proc is not writable/],
  ];
  for (const [cmd, args, code, said] of cases) {
    const r = await run(cmd, args, '');
    assert.equal(r.code, code, `${cmd} ${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, said);
    assert.ok(r.ms < 10_000, 'at once, no spinning');
  }
});

test('every number option given a word is a usage error naming the word (exit 2, one line), whichever command', async () => {
  const checked: string[] = [];
  for (const [cmd, needs] of [
    ['run-server', ['--port', '0', '--store', 'memory']],
    ['run-writer', ['-u', 'w', '--port', '9']],
    ['run-reader', ['-u', 'r', '--port', '9']],
    ['run-chat', ['-u', 'c', '--port', '9']],
  ] as const) {
    // The number options, from the command's own help (an option's entry may wrap onto the next lines).
    const help = (await run(cmd, ['--help'])).stdout;
    const entries = help.split(/\n(?=\s{2}(?:-\w, )?\s*--)/);
    const numbers = entries.filter((e) => e.includes('[number]')).map((e) => /--([\w-]+)/.exec(e)![1]!);
    assert.ok(numbers.length > 0, `${cmd} has number options`);
    for (const option of numbers) {
      const r = await run(cmd, [...needs, `--${option}`, 'soon']);
      assert.equal(r.code, 2, `${cmd} --${option} soon: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^${cmd}: invalid --${option} 'soon'`));
      checked.push(`${cmd} --${option}`);
    }
  }
  assert.ok(checked.length >= 18, checked.join(', '));
  // Also from the environment.
  const env = await run('run-reader', ['-u', 'r', '--port', '9'], '', { RELAY_DELAY: 'later' });
  assert.equal(env.code, 2);
  assert.match(env.stderr, /^run-reader: invalid --delay 'later'/);
});

test('readers give up on a dead server: --once and --who after 5 s by default, --timeout N otherwise; interrupted is never "no messages"', async () => {
  const port = String(await deadPort());
  // Side by side: each only waits (names differ, as nothing answers to hold them).
  const giveUp = async (args: string[], name: string): Promise<void> => {
    // At the default level: a script's stderr holds the one line of the error, and nothing before it.
    const r = await run('run-reader', ['-u', name, '--port', port, ...args]);
    assert.equal(r.code, 3, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^run-reader: server 127\.0\.0\.1:\d+ is not responding \(no answer within \d+ s\)\n$/);
    assert.ok(r.ms < 9_000, `${args.join(' ')} gave up after ${r.ms} ms`);
  };
  const interrupted = async (): Promise<void> => {
    const waiting = start('run-reader', ['-u', 'cron4', '--port', port, '--once', '--timeout', '30', '--log-level', 'error']);
    await new Promise((res) => setTimeout(res, 1_000));
    waiting.proc.kill('SIGTERM');
    const killed = await waiting.done;
    assert.equal(killed.code, 3, killed.stderr);
    assert.doesNotMatch(killed.stderr, /no messages/);
  };
  await Promise.all([giveUp(['--once'], 'cron1'), giveUp(['--who'], 'cron2'), giveUp(['--timeout', '1'], 'cron3'), interrupted()]);
});

test('a name is kept for its client while that runs, and is free at once when the client was killed (same host)', async () => {
  const server = await startServer();
  const port = String(server.port);
  try {
    const first = start('run-writer', ['-u', 'tail1', '--port', port, '--log-level', 'info']);
    first.proc.stdin!.write('one\n');
    await waitFor(first, /registered as tail1/);
    const other = await run('run-writer', ['-u', 'tail1', '--port', port], 'two\n');
    assert.equal(other.code, 4, other.stderr);
    assert.match(other.stderr, /the name tail1 is in use by a live writer/);
    first.proc.kill('SIGKILL');
    await first.done;
    const again = await run('run-writer', ['-u', 'tail1', '--port', port], 'three\n');
    assert.equal(again.code, 0, again.stderr);
    assert.ok(again.ms < 5_000, `registered after ${Math.round(again.ms)} ms`);

    const reader = start('run-reader', ['-u', 'ops', '--port', port, '--from', 'earliest', '--format', 'raw', '--log-level', 'info']);
    await waitFor(reader, /registered as ops/);
    reader.proc.kill('SIGKILL');
    await reader.done;
    const back = await run('run-reader', ['-u', 'ops', '--port', port, '--from', 'earliest', '--once', '--format', 'raw']);
    assert.equal(back.code === 0 || back.code === 6, true, back.stderr);
    assert.ok(back.ms < 5_000, `registered after ${Math.round(back.ms)} ms`);
    const all = await run('run-reader', ['-u', 'audit', '--port', port, '--from', 'earliest', '--once', '--format', 'raw']);
    assert.equal(all.stdout, 'one\nthree\n');
  } finally {
    await server.stop();
  }
});

test('writer Ctrl-C: what was read is delivered, exit 0; a second Ctrl-C while the server does not answer gives up, exit 3, saying how many', async () => {
  const server = await startServer();
  const port = String(server.port);
  try {
    const reader = await startReader(['-u', 'seen', '--port', port, '--format', 'raw', '--count', '2']);
    const w = start('run-writer', ['-u', 'typist', '--port', port, '--log-level', 'info']);
    await waitFor(w, /registered as typist/);
    w.proc.stdin!.write('typed\nand more\n');
    await sleep(300);
    w.proc.kill('SIGINT');
    const done = await w.done;
    assert.equal(done.code, 0, done.stderr);
    assert.equal((await reader.done).stdout, 'typed\nand more\n');

    // The server stops answering (SIGSTOP): a first Ctrl-C waits for confirmations, a second gives up.
    const stuck = start('run-writer', ['-u', 'stuck', '--port', port, '--log-level', 'info']);
    await waitFor(stuck, /registered as stuck/);
    server.proc.kill('SIGSTOP');
    stuck.proc.stdin!.write('one\ntwo\nthree\n');
    await sleep(300);
    stuck.proc.kill('SIGINT');
    await sleep(500);
    assert.equal(stuck.proc.exitCode, null, 'the first Ctrl-C waits for the server');
    stuck.proc.kill('SIGINT');
    const gaveUp = await stuck.done;
    server.proc.kill('SIGCONT');
    assert.equal(gaveUp.code, 3, gaveUp.stderr);
    assert.match(gaveUp.stderr, /^run-writer: interrupted: 3 line\(s\) not confirmed by the server; they may not have been stored$/m);
  } finally {
    server.proc.kill('SIGCONT');
    await server.stop();
  }
});
