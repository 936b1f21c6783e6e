import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CONFIG_KEYS } from '../../src/cli/config-file.js';
import { deadPort, run, start, waitFor } from './processes.js';

const dir = mkdtempSync(join(tmpdir(), 'relay-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, content: unknown): string => {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
};
/** The port and --timeout a writer used, from the line it says when nothing answers. */
const triedWith = (stderr: string): { port: number; timeout: number } => {
  const m = /server 127\.0\.0\.1:(\d+) is not responding \(no answer within ([\d.]+) s\)/.exec(stderr);
  assert.ok(m, stderr);
  return { port: Number(m[1]), timeout: Number(m[2]) };
};

test('a config file gives options; RELAY_* variables override it and flags override both', async () => {
  const [p1, p2, p3] = [await deadPort(), await deadPort(), await deadPort()];
  const config = file('precedence.json', { username: 'w', port: p1, timeout: 0.5 });
  const fromFile = await run('run-writer', ['--config', config], 'x\n');
  assert.equal(fromFile.code, 3, fromFile.stderr);
  assert.deepEqual(triedWith(fromFile.stderr), { port: p1, timeout: 0.5 });
  const fromEnv = await run('run-writer', ['--config', config], 'x\n', { RELAY_PORT: String(p2) });
  assert.deepEqual(triedWith(fromEnv.stderr), { port: p2, timeout: 0.5 });
  const fromFlag = await run('run-writer', ['--config', config, '--port', String(p3), '--timeout', '0.6'], 'x\n', { RELAY_PORT: String(p2) });
  assert.deepEqual(triedWith(fromFlag.stderr), { port: p3, timeout: 0.6 });
  // RELAY_CONFIG names the file as --config does.
  const fromConfigEnv = await run('run-writer', [], 'x\n', { RELAY_CONFIG: config });
  assert.deepEqual(triedWith(fromConfigEnv.stderr), { port: p1, timeout: 0.5 });
});

test('one file for every command: the server and the clients each take their own options from it and leave the others', async () => {
  const port = await deadPort();
  const config = file('shared.json', { port, store: 'memory', 'retain-messages': 10, username: 'everyone', format: 'json' });
  const server = start('run-server', ['--config', config]);
  try {
    await waitFor(server, new RegExp(`"port":${port}\\b`));
    const w = await run('run-writer', ['--config', config], 'from the file\n');
    assert.equal(w.code, 0, w.stderr);
    const r = await run('run-reader', ['--config', config, '--from', 'earliest', '--once']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout.trim()), { ...JSON.parse(r.stdout.trim()), from: 'everyone', text: 'from the file' });
    assert.equal(w.stderr + r.stderr, '', 'nothing to say: every key is an option of some command');
  } finally {
    server.proc.kill();
    assert.doesNotMatch((await server.done).stderr, /not an option/);
  }
});

test('without --config the file is looked for in $XDG_CONFIG_HOME/udp-relay/config.json; none there is no error', async () => {
  const port = await deadPort();
  const home = join(dir, 'xdg');
  mkdirSync(join(home, 'udp-relay'), { recursive: true });
  writeFileSync(join(home, 'udp-relay', 'config.json'), JSON.stringify({ port, timeout: 0.5 }));
  const found = await run('run-writer', ['-u', 'w'], 'x\n', { XDG_CONFIG_HOME: home });
  assert.deepEqual(triedWith(found.stderr), { port, timeout: 0.5 });
  const none = await run('run-writer', ['-u', 'w', '--port', String(port), '--timeout', '0.5'], 'x\n', { XDG_CONFIG_HOME: join(dir, 'empty') });
  assert.equal(none.code, 3);
  assert.equal(none.stderr.trim().split('\n').length, 1, none.stderr);
});

test('a key no command takes is warned of once and ignored; a malformed or missing file is one line and exit 2', async () => {
  const port = await deadPort();
  const typo = await run('run-writer', ['--config', file('typo.json', { username: 'w', port, timeout: 0.5, 'time-out': 9, colour: 'red' })], 'x\n');
  assert.equal(typo.code, 3, typo.stderr);
  const warnings = typo.stderr.split('\n').filter((l) => l.includes('not options of any command'));
  assert.deepEqual(warnings, [`run-writer: config file ${join(dir, 'typo.json')}: 'time-out', 'colour' are not options of any command; ignored`]);

  for (const [name, content, why] of [
    ['broken.json', '{"port": 12345,', /not valid JSON/],
    ['list.json', '[1, 2]', /expected one JSON object/],
    ['nested.json', '{"port": {"number": 1}}', /'port' must be a string, a number, true\/false, or a list of strings/],
    ['badport.json', '{"port": "twelve"}', /invalid port 'twelve'/],
  ] as const) {
    const r = await run('run-reader', ['-u', 'r', '--config', file(name, content)]);
    assert.equal(r.code, 2, `${name}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, why);
  }
  // A list of strings is taken where an option is given more than once (run-server --retain).
  const rules = await run('run-server', ['--port', '0', '--config', file('retain.json', { retain: ['logs.>:messages=5', 'chat.>'] })]);
  assert.equal(rules.code, 2, rules.stderr);
  assert.match(rules.stderr, /invalid --retain 'chat\.>': expected PATTERN:LIMIT/);
  const missing = await run('run-server', ['--config', join(dir, 'nowhere.json')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^run-server: config file .*nowhere\.json: no such file/);
});

test('a secret in a config file that others can read is warned of', async () => {
  const port = await deadPort();
  const path = file('secret.json', { username: 'w', secret: 'open sesame', port, timeout: 0.5 });
  chmodSync(path, 0o644);
  assert.match((await run('run-writer', ['--config', path], 'x\n')).stderr, /holds a secret and others can read it \(chmod 600/);
  chmodSync(path, 0o600);
  assert.doesNotMatch((await run('run-writer', ['--config', path], 'x\n')).stderr, /holds a secret/);
});

test('the keys a config file may hold are the options of the four commands, every one', () => {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const options = new Set<string>();
  for (const command of ['run-server', 'run-writer', 'run-reader', 'run-chat']) {
    const help = spawnSync(process.execPath, [join(root, 'bin', `${command}.js`), '--help'], { encoding: 'utf8' }).stdout;
    for (const m of help.matchAll(/^\s+(?:-\w, )?--([a-z-]+)/gm)) options.add(m[1]!);
  }
  for (const own of ['help', 'version', 'config']) assert.ok(options.delete(own), own);
  assert.deepEqual([...options].sort(), [...CONFIG_KEYS].sort());
});
