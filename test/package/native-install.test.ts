import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The package's install step, in a folder of its own holding what the step uses. */
function install(env: NodeJS.ProcessEnv): { status: number | null; stdout: string; stderr: string; built: boolean } {
  const dir = mkdtempSync(join(tmpdir(), 'relay-native-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  for (const part of ['binding.gyp', 'native', 'scripts/install-native.mjs']) cpSync(join(ROOT, part), join(dir, part), { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'install-step', private: true, scripts: { install: 'node scripts/install-native.mjs' } }));
  const r = spawnSync('npm', ['run', '--silent', 'install'], { cwd: dir, env: { ...process.env, ...env }, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, built: existsSync(join(dir, 'build/Release/thread_priority.node')) };
}

// That it builds, quietly, where it can: the global-install test (global-install.test.ts).
test('where the helper cannot be built the install goes on, and says so in one line', () => {
  const r = install({ npm_config_nodedir: join(tmpdir(), 'no-node-headers-here') });
  assert.equal(r.status, 0, 'the install does not fail');
  assert.ok(!r.built);
  assert.match(r.stderr, /^udp-relay: the optional native helper was not built \(.+\); the commands work without it\n$/);
});
