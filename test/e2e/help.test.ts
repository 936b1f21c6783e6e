import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { ExitCode } from '../../src/cli/exit-codes.js';
import type { Example } from '../../src/cli/command.js';
import { EXAMPLES as CHAT } from '../../src/cli/run-chat.js';
import { EXAMPLES as READER } from '../../src/cli/run-reader.js';
import { EXAMPLES as SERVER } from '../../src/cli/run-server.js';
import { EXAMPLES as WRITER } from '../../src/cli/run-writer.js';
import { ensureCommand } from './system-tools.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const README = readFileSync(`${ROOT}README.md`, 'utf8');
const COMMANDS: [string, Example[]][] = [
  ['run-server', SERVER],
  ['run-writer', WRITER],
  ['run-reader', READER],
  ['run-chat', CHAT],
];

/** `--help` as it shows in a terminal of `columns` columns (tmux; lines the terminal wrapped are joined). */
let terminals = 0;
function helpOnTerminal(command: string, columns: number): string {
  // A tmux server of its own each time: one just killed may still be going away when the next starts.
  const socket = `relay-help-${process.pid}-${++terminals}`;
  const tmux = (...args: string[]): string => execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
  tmux('new-session', '-d', '-s', 'help', '-x', String(columns), '-y', '200', `${process.execPath} ${ROOT}bin/${command}.js --help; sleep 30`);
  try {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const text = tmux('capture-pane', '-p', '-J', '-t', 'help');
      if (/Examples:[\s\S]*\n\s*\S[^\n]*\n\s*$/.test(text) && /^\s{6}\S/m.test(text.split('Examples:')[1] ?? '')) return text;
      if (Date.now() > deadline) throw new Error(`no help shown:\n${text}`);
      execFileSync('sleep', ['0.1']);
    }
  } finally {
    tmux('kill-server');
  }
}

/** The options a command's `--help` lists. */
const optionsIn = (help: string): Set<string> => new Set([...help.matchAll(/^\s+(?:-\w, )?--([a-z-]+)/gm)].map((m) => m[1]!));

/** The options the README's usage block for a command shows. */
function optionsInReadme(command: string): Set<string> {
  const section = README.split(`\n## ${command}\n`)[1]?.split('\n## ')[0] ?? '';
  const usage = /```\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  assert.ok(usage.includes(command), `README has a usage block for ${command}`);
  return new Set([...usage.matchAll(/--([a-z-]+)/g)].map((m) => m[1]!));
}

test('--help reads cleanly in 80 columns: no line wider, every example command whole on its line', () => {
  ensureCommand('tmux', 'tmux');
  for (const [command, examples] of COMMANDS) {
    const help = helpOnTerminal(command, 80);
    for (const line of help.split('\n')) assert.ok(line.length <= 80, `${command}: a line of ${line.length} columns:\n${line}`);
    const lines = help.split('\n').map((l) => l.trim());
    for (const e of examples) {
      const whole = e.command.replace('$0', command);
      assert.ok(lines.includes(whole), `${command}: example '${whole}' is not whole on one line:\n${help}`);
    }
  }
});

test("the README's usage block of each command lists exactly the options its --help lists", () => {
  const everywhere = new Set(['help', 'version', 'log-level', 'config']);
  for (const [command] of COMMANDS) {
    const help = execFileSync(process.execPath, [`${ROOT}bin/${command}.js`, '--help'], { encoding: 'utf8' });
    const fromHelp = [...optionsIn(help)].filter((o) => !everywhere.has(o)).sort();
    const fromReadme = [...optionsInReadme(command)].filter((o) => !everywhere.has(o)).sort();
    assert.deepEqual(fromReadme, fromHelp, `${command}: README usage vs --help`);
  }
});

test("the README's exit-code table has every exit code the commands use, and no other", () => {
  const table = README.split('### Exit codes')[1]!.split('\n## ')[0]!;
  const documented = [...table.matchAll(/^\| (\d+) \|/gm)].map((m) => Number(m[1])).sort((a, b) => a - b);
  assert.deepEqual(documented, Object.values(ExitCode).sort((a, b) => a - b));
});
