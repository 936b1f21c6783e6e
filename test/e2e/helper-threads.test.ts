import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { start, startReader, startServer, waitFor } from './processes.js';

const SCHED_OTHER = 0;
const SCHED_IDLE = 5;

/** Scheduling class of each thread of a process: field 41 of /proc/<pid>/task/<tid>/stat. */
function policies(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces: field 3 is index 0.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.set(Number(t), Number(fields[41 - 3]));
  }
  return out;
}

function assertEventLoopFirst(pid: number, what: string): void {
  const p = policies(pid);
  assert.equal(p.get(pid), SCHED_OTHER, `${what}: the event loop thread stays in the normal class`);
  const helpers = [...p].filter(([tid]) => tid !== pid);
  // V8's compiler and GC helpers and libuv's pool at least.
  assert.ok(helpers.length >= 4, `${what}: ${helpers.length} helper threads`);
  for (const [tid, policy] of helpers) assert.equal(policy, SCHED_IDLE, `${what}: thread ${tid} is in class ${policy}, not SCHED_IDLE`);
}

describe('helper threads wait behind the event loop', { skip: process.platform !== 'linux' && 'scheduling classes are a Linux feature' }, () => {
  const root = mkdtempSync(join(tmpdir(), 'relay-threads-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  test('a server on the sqlite store (its checkpoint worker included), a writer and a reader', async () => {
    const server = await startServer(['--store', 'sqlite', '--data-dir', join(root, 'data'), '--log-level', 'debug']);
    try {
      assert.match(server.stderr(), /helper threads moved behind the event loop \(idle\)/);
      assertEventLoopFirst(server.proc.pid!, 'run-server');
      const common = ['--port', String(server.port), '--log-level', 'debug'];
      const reader = await startReader(['-u', 'threads-r', '--delay', '0', '--count', '1', ...common]);
      const writer = start('run-writer', ['-u', 'threads-w', ...common]);
      await waitFor(writer, /registered as/);
      assertEventLoopFirst(reader.proc.pid!, 'run-reader');
      assertEventLoopFirst(writer.proc.pid!, 'run-writer');
      writer.proc.stdin!.end('one line\n');
      const [w, r] = await Promise.all([writer.done, reader.done]);
      assert.equal(w.code, 0, w.stderr);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim().split('\n').length, 1);
    } finally {
      await server.stop();
    }
  });
});
