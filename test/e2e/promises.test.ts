import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { jsonLines, lines, run, serverForTests, sleep, start, startReader, startServer, waitFor, type Running, type Server } from './processes.js';

/** The README's promises, each as a user meets it: drained queues, killed readers, idle clients. */
describe('a queue group drained to empty', () => {
  const { p } = serverForTests();

  test('--count 1 consumers one after another take each message once; then "no messages"; then only what is new', async () => {
    const init = await run('run-reader', ['-u', 'init', '--group', 'g1', '--once', ...p]);
    assert.equal(init.code, 6, init.stderr);
    assert.equal((await run('run-writer', ['-u', 'w', ...p], 'a\nb\nc\n')).code, 0);
    const ids: number[] = [];
    for (let i = 1; i <= 3; i++) {
      const k = await run('run-reader', ['-u', `k${i}`, '--group', 'g1', '--count', '1', '--format', 'json', ...p]);
      assert.equal(k.code, 0, k.stderr);
      ids.push(...jsonLines(k.stdout).map((m) => m['id'] as number));
    }
    assert.deepEqual(ids, [1, 2, 3]);
    const empty = await run('run-reader', ['-u', 'k9', '--group', 'g1', '--once', ...p]);
    assert.equal(empty.code, 6, `the queue is empty, yet it printed ${JSON.stringify(empty.stdout)}`);
    assert.equal(empty.stdout, '');
    assert.equal((await run('run-writer', ['-u', 'w', ...p], 'd\n')).code, 0);
    const next = await run('run-reader', ['-u', 'k10', '--group', 'g1', '--count', '1', '--format', 'raw', ...p]);
    assert.equal(next.stdout, 'd\n');
    const none = await run('run-reader', ['-u', 'k11', '--group', 'g1', '--once', ...p]);
    assert.equal(none.code, 6);
  });
});

describe('messages sent --to a queue group\u2019s name', () => {
  const { p } = serverForTests();

  test('go to the group, each to one member, once; readers outside it and other groups never see them', async () => {
    assert.equal((await run('run-reader', ['-u', 'm0', '--group', 'jobs', '--once', ...p])).code, 6, 'the group starts here');
    assert.equal((await run('run-writer', ['-u', 'boss', '--to', 'jobs', ...p], 'job 1\njob 2\njob 3\n')).code, 0);
    assert.equal((await run('run-writer', ['-u', 'boss', ...p], 'for everyone\n')).code, 0);
    const took: Record<string, unknown>[] = [];
    for (const m of ['m1', 'm2']) {
      const r = await run('run-reader', ['-u', m, '--group', 'jobs', '--count', '2', '--format', 'json', ...p]);
      assert.equal(r.code, 0, r.stderr);
      took.push(...jsonLines(r.stdout));
    }
    assert.deepEqual(took.map((m) => [m['text'], m['to'] ?? null]), [
      ['job 1', 'jobs'],
      ['job 2', 'jobs'],
      ['job 3', 'jobs'],
      ['for everyone', null],
    ]);
    assert.equal((await run('run-reader', ['-u', 'm3', '--group', 'jobs', '--once', ...p])).code, 6, 'each went once');
    const outsider = await run('run-reader', ['-u', 'eve', '--from', 'earliest', '--once', '--format', 'raw', ...p]);
    assert.equal(outsider.stdout, 'for everyone\n');
    const other = await run('run-reader', ['-u', 'o1', '--group', 'other', '--from', 'earliest', '--once', '--format', 'raw', ...p]);
    assert.equal(other.stdout, 'for everyone\n');
  });
});

describe('a reader killed with kill -9 while it prints a large backlog', () => {
  const total = 100_000;
  const { p } = serverForTests(['--session-timeout', '2'], async (port) => {
    const w = await run('run-writer', ['-u', 'w', ...port], lines(1, total));
    assert.equal(w.code, 0, w.stderr);
  });

  /** Up to the last whole line: what a killed process left in its output. */
  const ids = (out: string): number[] => jsonLines(out.slice(0, out.lastIndexOf('\n') + 1)).map((m) => m['id'] as number);

  for (const delay of ['0', '1']) {
    test(`--delay ${delay}: after a restart it resumes with no gap, and prints again at most about 1,000 of what it had printed`, async () => {
      const name = `killed${delay}`;
      const first = start('run-reader', ['-u', name, '--from', 'earliest', '--delay', delay, '--format', 'json', ...p]);
      const deadline = Date.now() + 20_000;
      // Killed in the middle of the backlog, while replies are being printed.
      while (first.stdout().split('\n').length < 20_000 && Date.now() < deadline) await sleep(1);
      first.proc.kill('SIGKILL');
      await first.done;
      const before = ids(first.stdout());
      assert.ok(before.length > 0 && before.length < total, `killed midway (after ${before.length})`);
      await sleep(3_000); // the killed session expires
      const second = start('run-reader', ['-u', name, '--delay', delay, '--format', 'json', ...p]);
      const until = Date.now() + 20_000;
      while (!second.stdout().includes(`"text":"${total}"`) && Date.now() < until) await sleep(20);
      second.proc.kill('SIGINT');
      await second.done;
      const afterIds = ids(second.stdout());
      const last = before[before.length - 1]!;
      const resumedAt = afterIds[0]!;
      assert.ok(resumedAt <= last + 1, `a gap: printed up to ${last}, resumed at ${resumedAt}`);
      const repeated = last + 1 - resumedAt;
      assert.ok(repeated <= 1_000 + 4_096, `${repeated} printed again (the bound: 1,000 and one datagram's worth)`);
      assert.deepEqual(afterIds, Array.from({ length: total - resumedAt + 1 }, (_, i) => resumedAt + i), 'in order, once');
    });
  }
});

describe('a reader whose output is closed (| head)', () => {
  test('leaves at once; the next run goes on with no gap beyond what the closed pipe held unread', async () => {
    const server = await startServer();
    try {
      const p = ['--port', String(server.port)];
      assert.equal((await run('run-writer', ['-u', 'w', ...p], lines(1, 50_000))).code, 0);
      // Leaving waits for nothing (a reader that waited to print would stay 2 s): well under that, in
      // one of two tries, for a loaded machine may not run the process for a second now and then.
      const tookMs: number[] = [];
      let r: Running | undefined;
      for (let attempt = 1; attempt <= 2 && !(tookMs.at(-1)! < 1_500); attempt++) {
        r = start('run-reader', ['-u', `headed${attempt}`, '--from', 'earliest', '--format', 'raw', ...p]);
        await new Promise<void>((res) => r!.proc.stdout!.once('data', () => res()));
        const closedAt = Date.now();
        r.proc.stdout!.destroy(); // as `head` does once it has its lines
        await r.done;
        tookMs.push(Date.now() - closedAt);
      }
      assert.ok(tookMs.at(-1)! < 1_500, `left ${tookMs.join(' and ')} ms after its output closed`);
      const got = r!.stdout().split('\n').filter(Boolean).map(Number);
      const next = await run('run-reader', ['-u', `headed${tookMs.length}`, '--once', '--format', 'raw', ...p]);
      const first = Number(next.stdout.split('\n')[0]);
      // What the reader wrote into the pipe before it was closed left the process, and is gone with the
      // pipe's buffer (64 KiB on Linux), unread: as with `head`, which stops reading. Nothing beyond it.
      const lastRead = got[got.length - 1] ?? 0;
      const inPipe = lines(lastRead + 1, first - 1).length;
      assert.ok(first <= lastRead + 1 || inPipe <= 65_536, `a gap: read up to ${lastRead}, resumed at ${first} (${inPipe} bytes unread)`);
    } finally {
      await server.stop();
    }
  });
});

// Its two tests only wait, each with its own names: side by side.
describe('idle spells longer than the liveness timeout, with a healthy server', { concurrency: true }, () => {
  let a: Server;
  let b: Server;
  before(async () => {
    a = await startServer();
    b = await startServer();
  });
  after(async () => {
    await Promise.all([a.stop(), b.stop()]);
  });

  test('a writer with pauses of 3 s between lines never calls the server lost, nor moves to the next one', async () => {
    const addr = ['--address', `127.0.0.1:${a.port},127.0.0.1:${b.port}`];
    const w = start('run-writer', ['-u', 'slow', ...addr, '--log-level', 'info']);
    await waitFor(w, /registered as slow/);
    for (let i = 1; i <= 3; i++) {
      w.proc.stdin!.write(`slow ${i}\n`);
      await sleep(3_000);
    }
    w.proc.stdin!.end();
    const done = await w.done;
    assert.equal(done.code, 0, done.stderr);
    assert.doesNotMatch(done.stderr, /not responding|responding again|trying|is back/);
    const got = await run('run-reader', ['-u', 'check', '--from', 'earliest', '--once', '--format', 'raw', '--port', String(a.port)]);
    assert.equal(got.stdout, 'slow 1\nslow 2\nslow 3\n', 'every line on the first server');
  });

  test('an idle reader with --delay 3 never calls the server lost', async () => {
    const r = await startReader(['-u', 'idle', '--delay', '3', '--port', String(a.port), '--log-level', 'info']);
    await sleep(8_000);
    r.proc.kill('SIGINT');
    const done = await r.done;
    assert.equal(done.code, 0);
    assert.doesNotMatch(done.stderr, /not responding|is back/);
  });
});

describe('a server that dies while its clients are idle', () => {
  test('an idle writer says so within the heartbeat bound (about 7 s), once, and once when it is back', async () => {
    const server = await startServer();
    const p = ['--port', String(server.port)];
    const w = start('run-writer', ['-u', 'quiet', ...p, '--log-level', 'info', '--timeout', '60']);
    await waitFor(w, /registered as quiet/);
    await server.stop();
    const stoppedAt = Date.now();
    await waitFor(w, /not responding/, 12_000);
    const reportedMs = Date.now() - stoppedAt;
    assert.ok(reportedMs <= 8_000, `reported after ${reportedMs} ms`);
    assert.equal((w.stderr().match(/not responding/g) ?? []).length, 1, 'said once');
    w.proc.kill('SIGINT');
    await w.done;
  });
});

describe('--format json is lossless', () => {
  test('20 KB of random bytes, sent as a file, come back byte for byte: text when it is UTF-8, textBase64 when it is not', async () => {
    const server = await startServer();
    const dir = mkdtempSync(join(tmpdir(), 'relay-json-'));
    try {
      const p = ['--port', String(server.port)];
      let seed = 7;
      const bytes = Buffer.from(Array.from({ length: 20_000 }, () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff));
      writeFileSync(join(dir, 'random.bin'), bytes);
      assert.equal((await run('run-writer', ['-u', 'bin', ...p, '--file', join(dir, 'random.bin')])).code, 0);
      assert.equal((await run('run-writer', ['-u', 'txt', ...p], 'plain ünïcødé\n')).code, 0);
      const r = await run('run-reader', ['-u', 'archive', ...p, '--from', 'earliest', '--once', '--format', 'json']);
      const [binary, text] = jsonLines(r.stdout);
      assert.equal(binary!['text'], undefined);
      assert.ok(Buffer.from(binary!['textBase64'] as string, 'base64').equals(bytes), 'byte for byte');
      assert.equal(text!['text'], 'plain ünïcødé');
      assert.equal(text!['textBase64'], undefined);
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
