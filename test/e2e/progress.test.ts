import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { sleep, startServer } from './processes.js';
import { ensureCommand } from './system-tools.js';

// A long write as a person at a terminal sees it: one line of progress, redrawn, gone at the end.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SOCKET = `relay-progress-${process.pid}`;
const tmux = (...args: string[]): string => execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });
const dir = mkdtempSync(join(tmpdir(), 'relay-progress-'));
symlinkSync(join(ROOT, 'bin', 'run-writer.js'), join(dir, 'run-writer'));
symlinkSync(process.execPath, join(dir, 'node'));
after(() => {
  spawnSync('tmux', ['-L', SOCKET, 'kill-server']);
  rmSync(dir, { recursive: true, force: true });
});

const PROGRESS = /sent ([\d,]+) lines, ([\d,]+) confirmed, ([\d,]+) lines\/s/;

test('a 2,000,000-line write on a terminal shows its progress on one line, cleared at the end; with stderr to a file, nothing', async () => {
  ensureCommand('tmux', 'tmux');
  const server = await startServer(['--message-rate', '0']);
  try {
    tmux('new-session', '-d', '-s', 'sh', '-x', '120', '-y', '30', `env PATH='${dir}:${process.env.PATH ?? ''}' PS1='$ ' bash --norc --noprofile`);
    const screen = (): string => tmux('capture-pane', '-p', '-t', 'sh');
    const type = (...keys: string[]): void => void tmux('send-keys', '-t', 'sh', ...keys);

    type(`seq 1 2000000 | run-writer -u big -p ${server.port}; echo "exit $?"`, 'Enter');
    const shown: { sent: number; confirmed: number }[] = [];
    const deadline = Date.now() + 60_000;
    while (!/^exit \d+$/m.test(screen()) && Date.now() < deadline) {
      const m = PROGRESS.exec(screen());
      if (m) shown.push({ sent: Number(m[1]!.replace(/,/g, '')), confirmed: Number(m[2]!.replace(/,/g, '')) });
      await sleep(100);
    }
    const end = screen();
    assert.match(end, /^exit 0$/m, end);
    assert.ok(shown.length >= 2, `progress was shown while it ran: ${JSON.stringify(shown)}`);
    assert.ok(new Set(shown.map((s) => s.confirmed)).size >= 2, 'and it moved');
    assert.ok(shown.every((s) => s.confirmed <= s.sent && s.sent <= 2_000_000));
    assert.doesNotMatch(end, /sent [\d,]+ lines/, `the line is gone at the end:\n${end}`);
    assert.match(end, /registered as big/, 'on a terminal, one short line says it signed on');

    type('clear', 'Enter');
    const err = join(dir, 'err');
    type(`seq 1 1000000 | run-writer -u cron -p ${server.port} 2>${err}; echo "done $?"`, 'Enter');
    const until = Date.now() + 60_000;
    while (!/^done \d+$/m.test(screen()) && Date.now() < until) await sleep(100);
    assert.match(screen(), /^done 0$/m);
    assert.equal(readFileSync(err, 'utf8'), '', 'stderr not a terminal: nothing at all');
  } finally {
    await server.stop();
  }
});
