import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { jsonLines, lines, run, start, startReader, startServer, sleep, type Server, overTransport } from './processes.js';

describe(`the relay as a user runs it (memory store)${overTransport()}`, () => {
  let server: Server;
  let p: string[];
  before(async () => {
    server = await startServer();
    p = ['--port', String(server.port)];
  });
  after(async () => {
    const s = await server.stop();
    assert.equal(s.code, 0, s.stderr);
  });

  test('two writers of 1,000 lines at once: a reader gets every line exactly once, each writer in order', async () => {
    const [a, b] = await Promise.all([
      run('run-writer', ['--username', 'w1', ...p], lines(1, 1000)),
      run('run-writer', ['--username', 'w2', ...p], lines(1001, 2000)),
    ]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(a.stderr, '', 'a writer that succeeds off a terminal is quiet');
    const r = await run('run-reader', ['--username', 'r-json', ...p, '--from', 'earliest', '--format', 'json', '--count', '2000']);
    assert.equal(r.code, 0, r.stderr);
    const msgs = jsonLines(r.stdout);
    assert.equal(msgs.length, 2000);
    for (const m of msgs) {
      assert.deepEqual(Object.keys(m).sort(), ['from', 'id', 'text', 'topic', 'ts']);
      assert.match(m['ts'] as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    const ids = msgs.map((m) => m['id'] as number);
    assert.deepEqual(ids, [...ids].sort((x, y) => x - y), 'log order');
    assert.equal(new Set(ids).size, 2000);
    const from = (w: string) => msgs.filter((m) => m['from'] === w).map((m) => Number(m['text']));
    assert.deepEqual(from('w1'), Array.from({ length: 1000 }, (_, i) => i + 1));
    assert.deepEqual(from('w2'), Array.from({ length: 1000 }, (_, i) => i + 1001));

    const raw = await run('run-reader', ['--username', 'r-raw', ...p, '--from', 'earliest', '--format', 'raw', '--count', '2000']);
    assert.deepEqual(raw.stdout.split('\n').filter(Boolean), msgs.map((m) => m['text']));
  });

  test('a reader that stops after 700 comes back to the remaining 1,300: no gap, no repeat', async () => {
    await run('run-writer', ['-u', 'w-resume', ...p], lines(1, 2000));
    // The same command twice: --from applies to a new name only; a returning name resumes.
    const args = ['--username', 'r-resume', ...p, '--from', 'earliest', '--format', 'json'];
    const first = await run('run-reader', [...args, '--count', '700']);
    assert.equal(first.code, 0, first.stderr);
    const second = await run('run-reader', [...args, '--count', '1300']);
    assert.equal(second.code, 0, second.stderr);
    const a = jsonLines(first.stdout).map((m) => m['id'] as number);
    const b = jsonLines(second.stdout).map((m) => m['id'] as number);
    assert.equal(a.length, 700);
    assert.equal(b.length, 1300);
    const all = [...a, ...b];
    assert.deepEqual(all, Array.from({ length: 2000 }, (_, i) => i + 1), 'ids 1..2000, each once, in order');
  });

  test("printf 'x\\n\\ny\\n' arrives as three messages", async () => {
    const name = 'r-empty';
    const reader = await startReader(['--username', name, ...p, '--format', 'json', '--count', '3']);
    const w = await run('run-writer', ['-u', 'w-empty', ...p], 'x\n\ny\n');
    assert.equal(w.code, 0, w.stderr);
    const r = await reader.done;
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(jsonLines(r.stdout).map((m) => m['text']), ['x', '', 'y']);
  });

  test('--delay 2 delivers lines written over 3 s in at most three packages', async () => {
    const reader = await startReader(['--username', 'r-delay', ...p, '--delay', '2', '--format', 'raw', '--count', '10']);
    const w = start('run-writer', ['-u', 'w-delay', ...p]);
    for (let i = 1; i <= 10; i++) {
      w.proc.stdin!.write(`tick ${i}\n`);
      await sleep(300);
    }
    w.proc.stdin!.end();
    assert.equal((await w.done).code, 0);
    const r = await reader.done;
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.split('\n').filter(Boolean), Array.from({ length: 10 }, (_, i) => `tick ${i + 1}`));
    // Chunks that arrive within 100 ms of each other are one package.
    let packages = 0;
    let last = -Infinity;
    for (const c of reader.chunks) {
      if (c.at - last > 100) packages++;
      last = c.at;
    }
    assert.ok(packages >= 1 && packages <= 3, `${packages} packages`);
  });

  test('a line bigger than the input buffer, then more input later: stdin resumes and both arrive', async () => {
    const reader = await startReader(['-u', 'r-bigline', ...p, '--format', 'raw', '--count', '2']);
    const w = start('run-writer', ['-u', 'w-bigline', ...p]);
    w.proc.stdin!.write(`${'x'.repeat(600_000)}\n`);
    await sleep(700);
    w.proc.stdin!.end('after\n');
    const wr = await w.done;
    assert.equal(wr.code, 0, wr.stderr);
    const r = await reader.done;
    assert.deepEqual(r.stdout.split('\n').map((l) => l.length), [600_000, 5, 0]);
  });

  test('a direct message reaches only its recipient', async () => {
    const bob = await startReader(['-u', 'bob', ...p, '--format', 'json', '--count', '2']);
    const carol = await startReader(['-u', 'carol', ...p, '--format', 'json', '--count', '1']);
    const w = await run('run-writer', ['-u', 'alice', '--to', 'bob', ...p], 'for bob only\n');
    assert.equal(w.code, 0, w.stderr);
    await run('run-writer', ['-u', 'alice', ...p], 'for everyone\n');
    const [b, c] = await Promise.all([bob.done, carol.done]);
    assert.deepEqual(
      jsonLines(b.stdout).map((m) => [m['from'], m['to'], m['text']]),
      [
        ['alice', 'bob', 'for bob only'],
        ['alice', undefined, 'for everyone'],
      ],
    );
    assert.deepEqual(jsonLines(c.stdout).map((m) => m['text']), ['for everyone']);
  });

  test('a second reader with a live name is refused with a message; the first is unaffected', async () => {
    const first = await startReader(['-u', 'dup', ...p, '--format', 'raw', '--count', '1']);
    const second = await run('run-reader', ['-u', 'dup', ...p]);
    assert.equal(second.code, 4);
    assert.match(second.stderr, /run-reader: refused by the server: the name dup is in use/);
    await run('run-writer', ['-u', 'w-dup', ...p], 'still here\n');
    const r = await first.done;
    assert.equal(r.code, 0);
    assert.equal(r.stdout, 'still here\n');
  });

  test('options come from the environment too', async () => {
    const env = { RELAY_PORT: String(server.port), RELAY_FORMAT: 'json', RELAY_COUNT: '1' };
    const reader = await startReader([], { ...env, RELAY_USERNAME: 'envr' });
    const w = await run('run-writer', [], 'from env\n', { ...env, RELAY_USERNAME: 'envw', RELAY_TO: 'envr' });
    assert.equal(w.code, 0, w.stderr);
    const r = await reader.done;
    assert.equal(r.code, 0, r.stderr);
    const [m] = jsonLines(r.stdout);
    assert.deepEqual([m!['from'], m!['to'], m!['text']], ['envw', 'envr', 'from env'], 'name, port, format, count and --to, all from RELAY_*');
    assert.equal(jsonLines(r.stdout).length, 1);
  });
});
