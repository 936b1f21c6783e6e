import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const fixture = fileURLToPath(new URL('./fixtures/fails-leaving-a-reader.ts', import.meta.url));

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const withoutTestContext = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_TEST_CONTEXT'));

// A failed test must not hang the run: a file whose test failed with a command still running used to
// wait for that command forever (Node 24's runner waits for the file's process whatever its timeout).
test('a test file that fails with a reader still running ends, and the reader with it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-harness-'));
  const pidFile = join(dir, 'reader.pid');
  const child = spawn(process.execPath, ['--import', 'tsx', '--test', fixture], {
    // Run as a test run of its own, not as a file of this one (the runner marks its files' processes).
    env: { ...withoutTestContext(), READER_PID_FILE: pidFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
  clearTimeout(timer);
  const readerPid = Number(readFileSync(pidFile, 'utf8'));
  rmSync(dir, { recursive: true, force: true });
  const readerLeft = alive(readerPid);
  if (readerLeft) process.kill(readerPid, 'SIGKILL');
  assert.equal(signal, null, 'the file ended by itself');
  assert.equal(code, 1, out);
  assert.match(out, /failed on purpose/);
  assert.equal(readerLeft, false, 'the reader it left was ended');
});
