import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runDemo, runToEnd as run } from '../e2e/demo-output.js';
import { ensureCommand } from '../e2e/system-tools.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };

test('installed globally from the packed tarball on a clean prefix: the four commands run from PATH and the demo works', async (t) => {
  ensureCommand('redis-server', 'redis-server'); // the demo's last part
  const work = mkdtempSync(join(tmpdir(), 'relay-install-'));
  // better-sqlite3 installs a prebuilt binary when one can be fetched, and compiles for minutes when not:
  // a mirror on loopback serves the one this checkout's install made, as a mirror of prebuilds would.
  const prebuild = join(work, 'prebuild.tar.gz');
  execFileSync('tar', ['-czf', prebuild, '-C', join(ROOT, 'node_modules/better-sqlite3'), 'build/Release/better_sqlite3.node']);
  // prebuild-install keeps each download in npm's cache under a name made from its URL, and takes it from
  // there the next time: a path of this run's own keeps an earlier run's download (its mirror on the same
  // port, by chance) from standing in for this one. What this run adds there is removed after.
  const runId = randomBytes(6).toString('hex');
  const cache = join(process.env.npm_config_cache ?? join(homedir(), '.npm'), '_prebuilds');
  const cachedBefore = new Set(existsSync(cache) ? readdirSync(cache) : []);
  const asked: string[] = [];
  const mirror = createServer((req, res) => {
    asked.push(req.url ?? '');
    res.end(readFileSync(prebuild));
  }).listen(0, '127.0.0.1');
  await once(mirror, 'listening');
  t.after(() => {
    mirror.close();
    rmSync(work, { recursive: true, force: true });
    if (existsSync(cache)) for (const f of readdirSync(cache)) if (!cachedBefore.has(f)) rmSync(join(cache, f), { force: true });
  });

  // The tarball as `npm publish` would send it (dist/ was built by npm test before the tests run).
  const [packed] = JSON.parse(execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: ROOT, encoding: 'utf8' })) as [
    { filename: string },
  ];
  const prefix = join(work, 'prefix');
  const env = {
    ...process.env,
    npm_config_better_sqlite3_binary_host: `http://127.0.0.1:${(mirror.address() as { port: number }).port}/${runId}`,
  };
  const installed = await run('npm', ['install', '-g', join(work, packed.filename), '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund'], env);
  assert.ok(asked.some((u) => u.startsWith(`/${runId}/`) && u.includes(`better-sqlite3-v`)), `the prebuilt binary was not asked for: ${asked.join(', ')}\n${installed}`);
  const home = join(prefix, 'lib/node_modules', pkg.name);
  assert.ok(existsSync(join(home, 'build/Release/thread_priority.node')), `the native helper was not built on install:\n${installed}`);
  assert.doesNotMatch(installed, /native helper was not built/);

  const onPath = { ...process.env, PATH: `${join(prefix, 'bin')}${delimiter}${process.env.PATH ?? ''}`, DEMO_INSTALLED: '1' };
  for (const command of ['run-server', 'run-writer', 'run-reader', 'run-chat']) {
    assert.equal((await run(command, ['--version'], onPath)).trim(), pkg.version, command);
  }
  await runDemo(onPath);
});
