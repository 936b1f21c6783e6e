import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { startRedis, type RedisServer } from '../store/redis-server.js';
import { jsonLines, run, sleep, start, startServer, startServerToRestart, waitFor, type Running, type Server } from './processes.js';

// `run-writer --follow`: a log file shipped exactly once while the shipper is killed, the file rotated and
// the server crashed, as a user would run it.

const root = mkdtempSync(join(tmpdir(), 'relay-follow-'));
let dirs = 0;
let redis: RedisServer;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis.stop();
  rmSync(root, { recursive: true, force: true });
});

const numbered = (from: number, to: number): string => {
  let s = '';
  for (let i = from; i <= to; i++) s += `line ${i}\n`;
  return s;
};

/** A follower of `path` named `name`, registered; killed or stopped by the caller. */
async function follower(port: number, name: string, path: string, extra: string[] = []): Promise<Running> {
  const w = start('run-writer', ['-u', name, '--port', String(port), '--follow', path, '--log-level', 'debug', ...extra]);
  await waitFor(w, /registered as/);
  return w;
}

/** Waits (at most `ms`) until the log holds `count` messages. */
async function untilStored(port: number, count: number, ms: number): Promise<void> {
  const r = start('run-reader', ['-u', `wait${++dirs}`, '--port', String(port), '--from', 'earliest', '--format', 'raw', '--count', String(count)]);
  const timer = setTimeout(() => r.proc.kill('SIGKILL'), ms);
  await r.done;
  clearTimeout(timer);
}

/** How many messages the log holds now (from the server's list of topics; 0 while it does not answer). */
async function logSize(port: number): Promise<number> {
  const r = await run('run-reader', ['-u', 'probe', '--port', String(port), '--topics', '--format', 'json']);
  return Number(jsonLines(r.stdout).find((t) => t['topic'] === 'main')?.['messages'] ?? 0);
}

/** Waits (at most `ms`) until the log holds more than `count` messages. */
async function untilGrown(port: number, count: number, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while ((await logSize(port)) <= count) {
    if (performance.now() > deadline) throw new Error(`the writer run stored nothing in ${ms} ms`);
    await sleep(100);
  }
}

/** The whole log as it is; every number in it, in log order. */
async function readAll(port: number): Promise<number[]> {
  const r = await run('run-reader', ['-u', `check${++dirs}`, '--port', String(port), '--from', 'earliest', '--format', 'raw', '--once']);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean).map((l) => Number(/^line (\d+)$/.exec(l)![1]));
}

/** Every number of 1..n exactly once; and within each file's range, in order. On failure, what each writer run said. */
function exactlyOnceInOrder(got: number[], n: number, files: [number, number][], writers: Running[] = [], servers: Running[] = []): void {
  const said = [
    ...writers.map((w, i) => `run ${i + 1}: ${w.stderr().split('\n').filter((l) => /"level":[45]0|registered|following|let go|resuming|first run/.test(l)).join(' ')}`),
    ...servers.map((sv, i) => `server ${i + 1}: ${sv.stderr().split('\n').filter((l) => /"level":[45]0|shipper/.test(l)).join(' ')}`),
  ].join('\n');
  const seen = new Uint8Array(n + 1);
  const doubled = got.filter((x) => seen[x]!++ > 0);
  assert.deepEqual(doubled.slice(0, 10), [], `${doubled.length} lines doubled\n${said}`);
  const missing: number[] = [];
  for (let i = 1; i <= n; i++) if (!seen[i]) missing.push(i);
  assert.deepEqual(missing.slice(0, 10), [], `${missing.length} lines missing\n${said}`);
  assert.equal(got.length, n);
  for (const [a, b] of files) {
    const mine = got.filter((x) => x >= a && x <= b);
    assert.ok(mine.every((x, i) => i === 0 || x > mine[i - 1]!), `lines ${a}-${b} (one file) in order`);
  }
}

describe('run-writer --follow', () => {
  test('lines written while the writer was down are sent when it is back, also from a file rotated meanwhile', async (t: TestContext) => {
    const dir = join(root, `d${++dirs}`);
    const s = await startServer(['--store', 'sqlite', '--data-dir', join(dir, 'data')]);
    t.after(() => s.stop());
    const log = join(dir, 'app.log');
    writeFileSync(log, numbered(1, 100));
    let w = await follower(s.port, 'web1', log, ['--from-start']);
    appendFileSync(log, numbered(101, 200));
    await untilStored(s.port, 200, 10_000);
    w.proc.kill('SIGKILL');
    await w.done;
    // Down: more lines, then the file rotated by rename (the old one stays as app.log.1), and a new one.
    appendFileSync(log, numbered(201, 300));
    renameSync(log, `${log}.1`);
    writeFileSync(log, numbered(301, 400));
    w = await follower(s.port, 'web1', log);
    t.after(() => w.proc.kill('SIGKILL'));
    // At --log-level debug it says where it resumes each file: the rotated one where the server had it.
    await waitFor(w, /following .*app\.log\.1 \(inode \d+, \d+ bytes\) from (\d+); marked at \1 \(64 bytes known\)/);
    appendFileSync(log, numbered(401, 500));
    await untilStored(s.port, 500, 10_000);
    w.proc.kill('SIGTERM');
    const done = await w.done;
    assert.equal(done.code, 0, done.stderr);
    exactlyOnceInOrder(await readAll(s.port), 500, [[1, 300], [301, 500]]);
    // Each line says which file it was read from: the rest of the rotated file under its new name.
    const json = await run('run-reader', ['-u', 'files', '--port', String(s.port), '--from', 'earliest', '--format', 'json', '--once']);
    const fileOf = new Map(jsonLines(json.stdout).map((m) => [Number(/\d+$/.exec(m['text'] as string)![0]), m['file']]));
    assert.equal(fileOf.get(1), log);
    assert.equal(fileOf.get(150), log);
    assert.equal(fileOf.get(250), `${log}.1`);
    assert.equal(fileOf.get(450), log);
    const text = await run('run-reader', ['-u', 'text', '--port', String(s.port), '--from', 'earliest', '--count', '1']);
    assert.match(text.stdout, new RegExp(` web1 \\[${log.replace(/[/.]/g, '\\$&')}\\]: line 1\n$`));
  });

  test('a second --follow writer with a name in use is refused, exit 4; the first goes on', async (t: TestContext) => {
    const dir = join(root, `d${++dirs}`);
    mkdirSync(dir);
    const s = await startServer();
    t.after(() => s.stop());
    const log = join(dir, 'app.log');
    writeFileSync(log, '');
    const first = await follower(s.port, 'web1', log);
    t.after(() => first.proc.kill('SIGKILL'));
    const second = await run('run-writer', ['-u', 'web1', '--port', String(s.port), '--follow', log]);
    assert.equal(second.code, 4, second.stderr);
    assert.match(second.stderr, /^run-writer: refused by the server: the name web1 is in use by a live writer/);
    appendFileSync(log, numbered(1, 10));
    await untilStored(s.port, 10, 10_000);
    first.proc.kill('SIGTERM');
    assert.equal((await first.done).code, 0);
    exactlyOnceInOrder(await readAll(s.port), 10, [[1, 10]]);
  });

  test('bad uses are one line and exit 2', async () => {
    for (const [args, said] of [
      [['--follow', 'a.log', '--file', 'a.log'], /--follow and --file cannot be used together/],
      [['--from-start'], /--from-start goes with --follow/],
      [['--follow', 'logs-*/app.log'], /wildcards go in the file name only/],
    ] as const) {
      const r = await run('run-writer', ['-u', 'w', '--port', '9', ...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, said);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });

  /**
   * 200,000 lines appended at about 10,000 a second; the file renamed every 50,000 lines and once copied
   * and truncated; the writer killed with kill -9 five times at random moments (once just before a rename)
   * and restarted; the server killed once. Every line reaches the log once, each file's lines in order.
   */
  async function shipThroughEverything(t: TestContext, store: (dir: string) => string[]): Promise<void> {
    const dir = join(root, `d${++dirs}`);
    mkdirSync(dir);
    const N = 200_000;
    const began = performance.now();
    const serverArgs = store(dir);
    let s: Server = await startServerToRestart(serverArgs);
    const servers: Server[] = [s];
    const port = s.port;
    const log = join(dir, 'app.log');
    writeFileSync(log, '');
    let w = await follower(port, 'shipper', log, ['--from-start']);
    const writers = [w];
    // What the log held as the run started: it is killed only once the server has stored something of
    // it. A run killed before that leaves nothing behind, not even the files it opened (README, Shipping
    // logs); on a loaded machine that can take seconds.
    let storedBefore = 0;
    const restart = async (): Promise<void> => {
      storedBefore = await logSize(port);
      w = await follower(port, 'shipper', log);
      writers.push(w);
    };
    t.after(async () => {
      w.proc.kill('SIGKILL');
      await s.stop();
    });
    const files: [number, number][] = [];
    let fileStart = 1;
    // Kills at random moments; the third just before a rename, so the writer comes back to a rotated file.
    const kills = new Set([17_000, 71_000, 99_500, 133_000, 181_000].map((k, i) => (i === 2 ? k : k + 100 * Math.floor(Math.random() * 40))));
    const serverCrashAt = 110_000;
    let writerDown = false;
    for (let n = 1; n <= N; n += 100) {
      appendFileSync(log, numbered(n, n + 99));
      const end = n + 99;
      if (end % 50_000 === 0 && end < N) {
        renameSync(log, `${log}.${end}`);
        files.push([fileStart, end]);
        fileStart = end + 1;
      }
      if (end === 125_000) {
        // Copy and truncate: the copy keeps what the writer may not have read yet.
        copyFileSync(log, `${log}.copy`);
        truncateSync(log, 0);
        files.push([fileStart, end]);
        fileStart = end + 1;
      }
      if (kills.has(end)) {
        await untilGrown(port, storedBefore, 60_000);
        w.proc.kill('SIGKILL');
        await w.done;
        writerDown = true;
      } else if (writerDown && (end % 1_000 === 0 || end % 50_000 === 0)) {
        await restart();
        writerDown = false;
      }
      if (end === serverCrashAt) {
        s.proc.kill('SIGKILL');
        await s.done;
        s = await startServer([...serverArgs, '--port', String(port)]);
        servers.push(s);
        // Killed before it signs on again, the writer's name would stay claimed in Redis by the crashed
        // server's session for the session timeout (docs/SCALING.md): the next kill waits for that.
        if (!writerDown) await waitFor(w, /registered again/);
      }
      // About 10,000 lines a second, whatever the time spent above.
      await sleep(Math.max(0, began + (end / 10_000) * 1000 - performance.now()));
    }
    files.push([fileStart, N]);
    if (writerDown) await restart();
    const appended = performance.now();
    // Caught up once the log holds them all; then the writer leaves cleanly.
    await untilStored(port, N, 60_000);
    w.proc.kill('SIGTERM');
    const done = await w.done;
    assert.equal(done.code, 0, done.stderr);
    assert.equal(writers.length, 6, 'started once and after each of the five kills');
    exactlyOnceInOrder(await readAll(port), N, files, writers, servers);
    t.diagnostic(`appended in ${Math.round(appended - began)} ms, caught up ${Math.round(performance.now() - appended)} ms later`);
    const said = writers.map((x) => x.stderr()).join('');
    // Said by the run that saw the truncation, or, killed around it, by the next one as it started.
    assert.match(said, /(was truncated or replaced: reading it again|is not as it was when last followed \(truncated or replaced\): reading it) from its start \(the rest of what it held first, from its copy .*app\.log\.copy\)/);
  }

  describe('200,000 lines through five kill -9s of the writer, rotations and a server crash', { concurrency: 2 }, () => {
    test('on the sqlite store', (t) => shipThroughEverything(t, (dir) => ['--store', 'sqlite', '--data-dir', join(dir, 'data')]));
    test('on the redis store', (t) => shipThroughEverything(t, () => ['--store', redis.url(`follow${++dirs}`)]));
  });
});
