import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { sleep } from './processes.js';
import { ensureCommand } from './system-tools.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SOCKET = `relay-completion-${process.pid}`;
const tmux = (...args: string[]): string => execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });

// The commands by their names, as an install puts them on PATH, and the node that runs these tests.
const bin = mkdtempSync(join(tmpdir(), 'relay-completion-'));
for (const c of ['run-server', 'run-writer', 'run-reader', 'run-chat']) symlinkSync(join(ROOT, 'bin', `${c}.js`), join(bin, c));
symlinkSync(process.execPath, join(bin, 'node'));
after(() => {
  spawnSync('tmux', ['-L', SOCKET, 'kill-server']);
  rmSync(bin, { recursive: true, force: true });
});

async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${tmux('capture-pane', '-p', '-t', 'sh')}`);
    await sleep(50);
  }
}

test('bash completion, as a person uses it: the script the command prints completes options and their choices', async () => {
  ensureCommand('tmux', 'tmux');
  tmux('new-session', '-d', '-s', 'sh', '-x', '120', '-y', '30', `env PATH='${bin}:${process.env.PATH ?? ''}' PS1='$ ' bash --norc --noprofile`);
  const screen = (): string => tmux('capture-pane', '-p', '-t', 'sh');
  const type = (...keys: string[]): void => void tmux('send-keys', '-t', 'sh', ...keys);
  type('source <(run-reader completion) && echo sourced', 'Enter');
  await until('the script to load', () => /^sourced$/m.test(screen()));

  type('run-reader --for', 'Tab');
  await until('--for to complete to --format', () => /\$ run-reader --format\s*$/m.test(screen()));
  type('Tab', 'Tab');
  await until('the formats to be offered', () => /^json\s+raw\s+text\s*$/m.test(screen()));
  type('j', 'Tab');
  await until('--format j to complete to json', () => /\$ run-reader --format json\s*$/m.test(screen()));
  type('C-u');

  type('run-reader --log-level w', 'Tab');
  await until('the level to complete', () => /\$ run-reader --log-level warn\s*$/m.test(screen()));
  type('C-u');
  // Options only, not their one-letter aliases spelt long (--u).
  type('run-reader --u', 'Tab');
  await until('--u to complete to --username', () => /\$ run-reader --username\s*$/m.test(screen()));
});

test('the script is for zsh when asked from zsh, and for bash otherwise', () => {
  const script = (shell: string): string =>
    execFileSync(process.execPath, [join(ROOT, 'bin/run-writer.js'), 'completion'], { encoding: 'utf8', env: { ...process.env, SHELL: shell, ZSH_NAME: '' } });
  assert.match(script(join('/bin', 'bash')), /complete -o bashdefault -o default -F _run-writer_yargs_completions run-writer/);
  assert.match(script(join('/usr/bin', 'zsh')), /^#compdef run-writer/m);
});
