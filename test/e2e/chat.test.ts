import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { run, sleep, startReader, startServer, startServerToRestart, type Server } from './processes.js';
import { ensureCommand } from './system-tools.js';

const CHAT = fileURLToPath(new URL('../../bin/run-chat.js', import.meta.url));
const SOCKET = `relay-chat-test-${process.pid}`;
const tmux = (...args: string[]): string => execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });
const screen = (s: string): string => tmux('capture-pane', '-p', '-t', s);
const type = (s: string, ...keys: string[]): void => void tmux('send-keys', '-t', s, ...keys);
const alive = (s: string): boolean => {
  try {
    tmux('has-session', '-t', s);
    return true;
  } catch {
    return false;
  }
};

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; the screens:\n${dump()}`);
    await sleep(50);
  }
}
const dump = (): string => {
  try {
    return tmux('list-sessions', '-F', '#S').split('\n').filter(Boolean).map((n) => `[${n}]\n${screen(n)}`).join('\n');
  } catch {
    return '(no sessions)';
  }
};
const shows = (s: string, pattern: RegExp): Promise<void> => until(`${s} to show ${pattern}`, () => pattern.test(screen(s)));

// The tests run side by side: most of their time is spent waiting out timeouts.
describe('run-chat, as people use it in a terminal (tmux)', { concurrency: true }, () => {
  let server: Server;
  let port: string;
  const exits = mkdtempSync(join(tmpdir(), 'relay-chat-exit-'));
  /** The chat in a tmux window; its exit code and stderr are kept in files, as a shell would show them. */
  const open = (name: string, width = 100): void =>
    void tmux(
      'new-session', '-d', '-s', name, '-x', String(width), '-y', '20',
      `sh -c '${process.execPath} ${CHAT} -u ${name} -p ${port} 2>${join(exits, `${name}.err`)}; echo $? >${join(exits, `${name}.code`)}'`,
    );
  const exitOf = (name: string): { code: number; stderr: string } => ({
    code: Number(readFileSync(join(exits, `${name}.code`), 'utf8')),
    stderr: readFileSync(join(exits, `${name}.err`), 'utf8'),
  });

  before(async () => {
    ensureCommand('tmux', 'tmux');
    server = await startServer();
    port = String(server.port);
  });
  after(async () => {
    try {
      tmux('kill-server');
    } catch {
      // no sessions left
    }
    await server.stop();
  });

  test('two people talk: broadcast, a direct message, /who, typing kept intact, resize, /quit, offline messages on return', async () => {
    open('alice');
    open('bob');
    await shows('alice', /connected to .* as alice/);
    await shows('bob', /connected to .* as bob/);

    type('alice', 'hello bob', 'Enter');
    await shows('bob', /\d\d:\d\d:\d\d alice: hello bob$/m);

    // Someone sends terminal escapes (clear the screen, set the title): the chat shows them, inert.
    const w = await run('run-writer', ['-u', 'mallory', '-p', port], '\x1b[2J\x1b]0;pwned\x07 look\n');
    assert.equal(w.code, 0, w.stderr);
    await shows('bob', /mallory: \\x1b\[2J\\x1b\]0;pwned\\x07 look$/m);
    assert.match(screen('bob'), /alice: hello bob/, 'the screen was not cleared');

    // Bob is half-way through a line when a direct message arrives: it appears above, his text stays.
    type('bob', 'half-typed te');
    type('alice', '/to bob just for you', 'Enter');
    await shows('bob', /alice \(direct to bob\): just for you/);
    await shows('alice', /-- delivered to bob$/m);
    const lines = screen('bob').trimEnd().split('\n');
    assert.equal(lines[lines.length - 1], 'bob> half-typed te');
    type('bob', 'xt', 'Enter');
    await shows('alice', /bob: half-typed text$/m);

    type('alice', '/to bad!name hi', 'Enter');
    await shows('alice', /-- invalid name 'bad!name': /);
    type('alice', '/to nosuchuser are you there?', 'Enter');
    await shows('alice', /-- stored; nosuchuser has not chatted here yet: it is kept for nosuchuser's first chat$/m);

    type('alice', '/who', 'Enter');
    await shows('alice', /^bob\s+online\s+last seen/m);
    assert.doesNotMatch(screen('alice'), /^bob\s+(reader|writer)/m, 'one row per person, not one per session');

    // A narrower window: messages still land above the input line, which is kept.
    tmux('resize-window', '-t', 'bob', '-x', '40');
    type('bob', 'after resize');
    type('alice', 'the window shrank', 'Enter');
    await shows('bob', /alice: the window/);
    assert.match(screen('bob'), /bob> after resize\s*$/);
    type('bob', 'C-u', '/quit', 'Enter');
    await until('bob to leave', () => !alive('bob'));
    assert.deepEqual(exitOf('bob'), { code: 0, stderr: '' }, '/quit leaves cleanly, exit 0');
    await shows('alice', /\* bob left/);
    // A chat that stayed a few seconds after /quit's wait would have closed its sockets twice.
    await sleep(3_500);

    // Bob is away: what alice sends him waits, and is shown with its time when he is back.
    type('alice', '/to bob while you were away', 'Enter');
    await sleep(1_100);
    await shows('alice', /-- stored; bob is offline: it is kept for bob until bob is back/);
    open('bob');
    await shows('bob', /(\d\d:\d\d:\d\d) alice \(direct to bob\): while you were away/);
    await shows('alice', /kept for bob until bob is back\n(.*\n)*-- delivered to bob$/m);
    await shows('alice', /\* bob came in/);
    type('bob', '/quit', 'Enter');
    type('alice', '/quit', 'Enter');
    await until('both to leave', () => !alive('bob') && !alive('alice'));
    await sleep(3_500);
    assert.deepEqual(exitOf('alice'), { code: 0, stderr: '' }, 'still exit 0 past the 3 s wait');
  });

  test('who is online on joining, kept up to date; /away and /back: a direct message is kept, and on return what waited is counted, then shown', async () => {
    const own = await startServer();
    const chat = (name: string): void =>
      void tmux('new-session', '-d', '-s', name, '-x', '120', '-y', '20', `${process.execPath} ${CHAT} -u ${name} -p ${own.port}`);
    try {
      chat('hana');
      await shows('hana', /-- nobody else is here now/);
      chat('gil');
      await shows('gil', /-- here now: hana$/m);
      await shows('hana', /\* gil came in \(here: gil\)$/m);

      type('gil', '/away', 'Enter');
      await shows('gil', /-- you are away: nothing is sent or received until \/back/);
      await shows('hana', /\* gil left \(nobody else here\)$/m);
      type('gil', 'typed while away', 'Enter');
      await shows('gil', /-- you are away: \/back first/);
      type('hana', '/to gil kept for you', 'Enter');
      await shows('hana', /-- stored; gil is offline: it is kept for gil until gil is back/);
      type('hana', 'to everyone meanwhile', 'Enter');
      await shows('hana', /-- stored$/m);
      await sleep(500);

      type('gil', '/back', 'Enter');
      await shows('gil', /-- you are back/);
      await shows('gil', /-- here now: hana\n(.*\n)*-- you have 2 messages\n.* hana \(direct to gil\): kept for you\n.* hana: to everyone meanwhile\n/);
      // The server has seen gil's reader pass the message: hana is told, once.
      await shows('hana', /-- delivered to gil$/m);
      assert.match(screen('hana'), /kept for gil until gil is back\n(.*\n)*-- delivered to gil\n/);
      await until('hana to see gil back', () => (screen('hana').match(/\* gil came in/g) ?? []).length === 2);
      assert.doesNotMatch(screen('hana'), /typed while away/, 'nothing typed while away was sent');
      type('gil', '/back', 'Enter');
      await shows('gil', /-- you are here already/);
      type('gil', '/quit', 'Enter');
      type('hana', '/quit', 'Enter');
      await until('both to leave', () => !alive('gil') && !alive('hana'));
    } finally {
      await own.stop();
    }
  });

  test('pauses longer than the liveness timeout say nothing; a server that dies while the chat is idle is reported within ~7 s, once, and its return once', async () => {
    const own = await startServer();
    const ownPort = String(own.port);
    tmux('new-session', '-d', '-s', 'carol', '-x', '100', '-y', '20', `${process.execPath} ${CHAT} -u carol -p ${ownPort}`);
    await shows('carol', /connected to .* as carol/);
    for (const line of ['first, then a pause', 'second, after 3 s']) {
      type('carol', line, 'Enter');
      await sleep(3_000);
    }
    assert.doesNotMatch(screen('carol'), /not responding|is back/, 'a healthy server is never called lost');
    await own.stop();
    const stoppedAt = Date.now();
    await until('carol to say the server is gone', () => /the server is not responding/.test(screen('carol')), 12_000);
    const after = Date.now() - stoppedAt;
    assert.ok(after <= 8_000, `told after ${after} ms`);
    await sleep(2_500);
    assert.equal((screen('carol').match(/not responding/g) ?? []).length, 1, 'said once');
    type('carol', '/quit', 'Enter');
    await until('carol to leave', () => !alive('carol'));
  });

  test('after a server restart, those who were online and come back are not announced again; one who leaves is', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relay-chat-restart-'));
    const first = await startServerToRestart(['--store', 'sqlite', '--data-dir', dir]);
    const fixed = String(first.port);
    for (const name of ['erin', 'frank']) {
      tmux('new-session', '-d', '-s', name, '-x', '100', '-y', '20', `${process.execPath} ${CHAT} -u ${name} -p ${fixed}`);
      await shows(name, new RegExp(`connected to .* as ${name}`));
    }
    await shows('erin', /\* frank came in/);
    await first.stop();
    const again = await startServer(['--store', 'sqlite', '--data-dir', dir, '--port', fixed]);
    try {
      // Both chats sign on again (a writer and a reader session each), then the others' grace runs out.
      await until('both chats to sign on again', () => (again.stderr().match(/(reader|writer) (erin|frank) registered/g) ?? []).length >= 4, 15_000);
      await sleep(12_000);
      assert.equal((screen('erin').match(/frank came in/g) ?? []).length, 1, `announced once:\n${screen('erin')}`);
      assert.doesNotMatch(screen('erin'), /frank left/);
      type('frank', '/quit', 'Enter');
      await shows('erin', /\* frank left/);
      type('erin', '/quit', 'Enter');
      await until('erin to leave', () => !alive('erin'));
    } finally {
      await again.stop();
    }
  });

  test('not on a terminal it is plain lines in and out, and end of input leaves', async () => {
    const own = await startServer();
    try {
      const ownPort = String(own.port);
      const reader = await startReader(['-u', 'listener', '-p', ownPort, '--format', 'raw', '--count', '2']);
      const chat = execFileSync(process.execPath, [CHAT, '-u', 'piper', '-p', ownPort], { input: 'from a pipe\n//slash kept\n/who\n', encoding: 'utf8' });
      assert.match(chat, /connected to .* as piper/);
      // The listener may have taken its two lines and left by the time /who is answered: online or offline.
      assert.match(chat, /^listener\s+(online|offline)\s+last seen/m, 'a piped /who is answered before the chat leaves');
      const r = await reader.done;
      assert.equal(r.stdout, 'from a pipe\n/slash kept\n');
    } finally {
      await own.stop();
    }
  });
});
