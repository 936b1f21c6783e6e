import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { start, waitFor } from '../e2e/processes.js';
import { ensureCommand } from '../e2e/system-tools.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const UNIT = readFileSync(join(ROOT, 'contrib/udp-relay.service'), 'utf8');
const work = mkdtempSync(join(tmpdir(), 'relay-unit-'));
after(() => rmSync(work, { recursive: true, force: true }));
const setting = (key: string): string[] => [...UNIT.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]!);

test('the systemd unit passes systemd-analyze verify, and its hardening rates OK', () => {
  ensureCommand('systemd-analyze', 'systemd');
  // verify wants the command it starts to exist: this checkout's run-server stands in for the installed one.
  const unit = join(work, 'udp-relay.service');
  writeFileSync(unit, UNIT.replace('/usr/local/bin/run-server', join(ROOT, 'bin/run-server.js')));
  const verify = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
  assert.equal(verify.status, 0, verify.stderr);
  assert.equal(verify.stderr.trim(), '', 'no warning');
  const security = spawnSync('systemd-analyze', ['security', '--offline=true', unit], { encoding: 'utf8' });
  const exposure = Number(/Overall exposure level for udp-relay\.service: ([\d.]+)/.exec(security.stdout)?.[1]);
  assert.ok(exposure <= 2, `exposure ${exposure} (0 is best, 10 worst):\n${security.stdout}`);
});

test("the unit's hardening leaves what the server needs: JIT memory, the helper-thread calls, its state directory", () => {
  assert.deepEqual(setting('MemoryDenyWriteExecute'), [], 'V8 writes the code it compiles into executable memory');
  assert.ok(setting('SystemCallFilter').includes('@system-service'), 'setpriority and sched_setattr are in @system-service');
  assert.ok(!setting('SystemCallFilter').some((f) => f.startsWith('~') && f.includes('@resources')), 'the helper-thread calls are in @resources');
  assert.deepEqual(setting('StateDirectory'), ['udp-relay']);
  assert.match(setting('ExecStart')[0]!, /--data-dir %S\/udp-relay(\s|$)/, 'the data directory is the state directory');
});

test("the unit's command line starts a server as the service would, and SIGTERM stops it cleanly", async () => {
  // %S is /var/lib for a system service: here a directory of the test's own.
  const [command, ...args] = setting('ExecStart')[0]!.replaceAll('%S', work).split(/\s+/);
  assert.equal(command, '/usr/local/bin/run-server');
  const server = start('run-server', [...args.map((a) => (a === '0.0.0.0' ? '127.0.0.1' : a)), '--port', '0']);
  await waitFor(server, /"port":\d+/);
  server.proc.kill('SIGTERM');
  const done = await server.done;
  assert.equal(done.code, 0, done.stderr);
});
