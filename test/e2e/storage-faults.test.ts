import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, cpSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { jsonLines, run, start, startServer, waitFor } from './processes.js';

/** The sqlite store meeting a damaged file and a full disk, as an operator would. */
const root = mkdtempSync(join(tmpdir(), 'relay-faults-'));

const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');
const oneLine = (stderr: string): string => {
  const ls = stderr.split('\n').filter(Boolean);
  assert.equal(ls.length, 1, `one line on stderr, got: ${stderr}`);
  return ls[0]!;
};

/** A data directory holding `n` messages `c-<i>`, written by a server that then stopped cleanly. */
async function filledDir(name: string, n: number): Promise<string> {
  const dir = join(root, name);
  const server = await startServer(['--store', 'sqlite', '--data-dir', dir]);
  const text = Array.from({ length: n }, (_, i) => `c-${String(i + 1).padStart(5, '0')} ${'x'.repeat(40)}`).join('\n') + '\n';
  const w = await run('run-writer', ['-u', 'filler', '--port', String(server.port)], text);
  assert.equal(w.code, 0, w.stderr);
  const r = await run('run-reader', ['-u', 'keeper', '--from', 'earliest', '--once', '--format', 'raw', '--port', String(server.port)]);
  assert.equal(r.stdout.split('\n').filter(Boolean).length, n);
  assert.equal((await server.stop()).code, 0);
  return dir;
}

/**
 * Mounts a tmpfs with `options` on `dir` for the rest of its describe block (unmounted after it).
 * False where that cannot be done (not root): the tests that need it say so and are skipped.
 */
function mountTmpfs(dir: string, options: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    return false;
  }
  after(() => execFileSync('umount', ['-l', dir]));
  return true;
}

const serverIn = (dir: string, extra: string[] = []) => run('run-server', ['--port', '0', '--store', 'sqlite', '--data-dir', dir, ...extra]);

describe('a damaged relay.db', () => {
  test('random bytes over a page: refused at start in one line naming the damage, the file not written', async () => {
    const dir = await filledDir('pages', 20_000);
    const db = join(dir, 'relay.db');
    const fd = openSync(db, 'r+');
    writeSync(fd, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) & 0xff)), 0, 4096, 3 * 4096);
    closeSync(fd);
    const before = sha(db);
    const s = await serverIn(dir);
    assert.equal(s.code, 7, s.stderr);
    assert.match(oneLine(s.stderr), /relay\.db is damaged \(.+\); it was not written to\. Copy what is intact .* --recover-to/);
    assert.doesNotMatch(s.stderr, /internal error| {4}at /);
    assert.equal(sha(db), before, 'the damaged file is left exactly as it was');

    // What is intact is copied into a new directory, and served from there, never altered.
    const rescued = join(root, 'rescued');
    const rec = await run('run-server', ['--data-dir', dir, '--recover-to', rescued]);
    assert.equal(rec.code, 0, rec.stderr);
    assert.match(rec.stderr, /recovered \d+ messages/);
    assert.equal(sha(db), before);
    const server = await startServer(['--store', 'sqlite', '--data-dir', rescued]);
    const r = await run('run-reader', ['-u', 'after', '--from', 'earliest', '--once', '--format', 'raw', '--port', String(server.port)]);
    await server.stop();
    const got = r.stdout.split('\n').filter(Boolean);
    assert.ok(got.length > 10_000, `most messages recovered (${got.length})`);
    assert.ok(got.every((l) => /^c-\d{5} x{40}$/.test(l)), 'no altered text');
  });

  test('one flipped byte in a message: the server starts, readers get every other message and are told what they missed; no altered text, no hang', async () => {
    const dir = await filledDir('flip', 20_000);
    const db = join(dir, 'relay.db');
    const bytes = readFileSync(db);
    const at = bytes.indexOf('c-14468');
    assert.ok(at > 0);
    bytes[at + 4] = '9'.charCodeAt(0); // c-14468 becomes c-14968 on disk
    writeFileSync(db, bytes);
    const server = start('run-server', ['--port', '0', '--store', 'sqlite', '--data-dir', dir]);
    await waitFor(server, /listening on/);
    try {
      const port = /"port":(\d+)/.exec(server.stderr())![1]!;
      const r = await run('run-reader', ['-u', 'audit', '--from', 'earliest', '--once', '--format', 'json', '--port', port]);
      assert.equal(r.code, 0, r.stderr);
      const texts = jsonLines(r.stdout).map((m) => m['text'] as string);
      assert.ok(texts.every((t) => /^c-\d{5} x{40}$/.test(t)));
      // A record holds the lines of one datagram (how many depends on how the writer packed them): the
      // damaged one is skipped whole, and nothing else. The altered text (a second c-14968) is never served.
      const ids = texts.map((t) => Number(t.slice(2, 7)));
      assert.equal(new Set(ids).size, ids.length, 'no message twice: the altered text is never served');
      const served = new Set(ids);
      const missing = Array.from({ length: 20_000 }, (_, i) => i + 1).filter((id) => !served.has(id));
      assert.ok(missing.includes(14468), 'the damaged record is skipped');
      assert.equal(missing.at(-1)! - missing[0]! + 1, missing.length, `one record's run of ids is missing: ${missing[0]}..${missing.at(-1)}`);
      assert.ok(missing.length <= 2_000, `${missing.length} missing`);
      assert.match(r.stderr, /\d+ messages .*missed|removed/);
    } finally {
      server.proc.kill('SIGTERM');
    }
    const s = await server.done;
    const damage = s.stderr.split('\n').filter((l) => l.includes('are damaged'));
    assert.equal(damage.length, 1, 'said once');
    assert.doesNotMatch(s.stderr, / {4}at /);
  });

  test('a relay.db emptied behind the server (truncate -s 0) is refused, unless the operator says --accept-empty-log', async () => {
    const dir = await filledDir('emptied', 100);
    truncateSync(join(dir, 'relay.db'), 0);
    const s = await serverIn(dir);
    assert.equal(s.code, 7);
    assert.match(oneLine(s.stderr), /holds no messages, but this data directory's log had reached id 100: .* --accept-empty-log/);
    assert.equal(statSync(join(dir, 'relay.db')).size, 0, 'not written');
    rmSync(join(dir, 'relay.db'));
    assert.equal((await serverIn(dir)).code, 7, 'a removed relay.db too');
    const server = await startServer(['--store', 'sqlite', '--data-dir', dir, '--accept-empty-log']);
    assert.match(server.stderr(), /listening on/);
    await server.stop();
  });
});

describe('a full disk', () => {
  const mnt = join(root, 'small-disk');
  mkdirSync(mnt);
  // The filler leaves 300 KB whatever the size; once it is gone the 2 MB written must fit beside a
  // write-ahead log that a busy machine checkpoints late (at 4 MB it did not, once: still full 60 s on).
  const mounted = mountTmpfs(mnt, 'size=16m');
  after(() => rmSync(root, { recursive: true, force: true }));

  test('the writer is told "disk full" once and waits; nothing is lost when space comes back; the server says it calmly', { skip: mounted ? false : 'needs root to mount a small tmpfs' }, async () => {
    const dir = join(mnt, 'data');
    const server = await startServer(['--store', 'sqlite', '--data-dir', dir]);
    const p = ['--port', String(server.port)];
    try {
      // Leave about 300 KB free.
      const filler = join(mnt, 'filler');
      const free = (): number => Number(execFileSync('df', ['--output=avail', '-B1', mnt]).toString().split('\n')[1]);
      writeFileSync(filler, Buffer.alloc(Math.max(0, free() - 300 * 1024)));
      const n = 20_000;
      const text = Array.from({ length: n }, (_, i) => `line ${i + 1} ${'y'.repeat(90)}`).join('\n') + '\n';
      const w = start('run-writer', ['-u', 'big', ...p, '--timeout', '60']);
      w.proc.stdin!.end(text);
      await waitFor(w, /cannot store: disk full; keeping \d+ unconfirmed line\(s\) and waiting/, 30_000);
      await new Promise((r) => setTimeout(r, 3_000));
      rmSync(filler);
      const done = await w.done;
      assert.equal(done.code, 0, done.stderr);
      assert.equal(done.stderr.split('\n').filter((l) => l.includes('cannot store')).length, 1, `told once: ${done.stderr}`);
      const r = await run('run-reader', ['-u', 'check', '--from', 'earliest', '--once', '--format', 'raw', ...p]);
      assert.equal(r.stdout, text, 'every line once, in order');
      const s = await server.stop();
      const errors = s.stderr.split('\n').filter((l) => l.includes('store error during append'));
      assert.ok(errors.length >= 1 && errors.length <= 3, `logged calmly (${errors.length} lines)`);
      assert.doesNotMatch(s.stderr, / {4}at |too many handshakes|registered again/);
      assert.match(errors[0]!, /disk full/);
    } finally {
      server.proc.kill('SIGKILL');
    }
  });
});

describe('a data directory that cannot be written', () => {
  const mnt = mkdtempSync(join(tmpdir(), 'relay-ro-'));
  const mounted = mountTmpfs(mnt, 'ro,size=1m');
  after(() => rmSync(mnt, { recursive: true, force: true }));

  test('is refused in one line saying so, exit 7: the directory itself, and one to be made under it', { skip: mounted ? false : 'needs root to mount a read-only tmpfs' }, async () => {
    const here = await serverIn(mnt);
    assert.equal(here.code, 7);
    assert.equal(oneLine(here.stderr), `run-server: data directory ${mnt} is not writable`);
    const below = await serverIn(join(mnt, 'sub', 'dir'));
    assert.equal(below.code, 7);
    assert.match(oneLine(below.stderr), new RegExp(`cannot create data directory .*: ${mnt} is not writable \\(EROFS\\)`));
  });
});

describe('a SQLite driver that cannot load', () => {
  const ROOT = fileURLToPath(new URL('../../', import.meta.url));
  /**
   * An installed copy of the package whose better-sqlite3 is broken as installs break: its native part
   * missing (a failed build), or not a module this Node can load (built elsewhere).
   */
  function installWithDriver(native: Buffer | undefined): string {
    const dir = mkdtempSync(join(tmpdir(), 'relay-driver-'));
    for (const part of ['bin', 'dist', 'package.json']) cpSync(join(ROOT, part), join(dir, part), { recursive: true });
    mkdirSync(join(dir, 'node_modules'));
    for (const dep of readdirSync(join(ROOT, 'node_modules'))) {
      if (dep !== 'better-sqlite3') symlinkSync(join(ROOT, 'node_modules', dep), join(dir, 'node_modules', dep));
    }
    const driver = join(dir, 'node_modules', 'better-sqlite3');
    for (const part of ['package.json', 'lib']) cpSync(join(ROOT, 'node_modules', 'better-sqlite3', part), join(driver, part), { recursive: true });
    if (native) {
      mkdirSync(join(driver, 'build', 'Release'), { recursive: true });
      writeFileSync(join(driver, 'build', 'Release', 'better_sqlite3.node'), native);
    }
    return dir;
  }

  test('says so in one line, with what to do, exit 7: bindings missing, or built for something else; --store memory still serves', () => {
    for (const native of [undefined, Buffer.from('not a shared object\n')]) {
      const dir = installWithDriver(native);
      try {
        const cmd = join(dir, 'bin', 'run-server.js');
        const r = spawnSync(process.execPath, [cmd, '--port', '0', '--data-dir', join(dir, 'data')], { encoding: 'utf8', timeout: 20_000 });
        assert.equal(r.status, 7, r.stderr);
        assert.equal(
          oneLine(r.stderr),
          `run-server: the SQLite driver (better-sqlite3) cannot load for Node ${process.versions.node}: run 'npm rebuild better-sqlite3', or use --store memory`,
        );
        // The advice holds: without the driver, a memory store serves (it runs until stopped: 1 s here).
        const memory = spawnSync(process.execPath, [cmd, '--port', '0', '--store', 'memory'], { encoding: 'utf8', timeout: 1_500, killSignal: 'SIGTERM' });
        assert.match(memory.stderr, /"port":\d+/, memory.stderr);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });
});
