// The install step of the package: builds the optional native helper (native/, see io/helper-threads).
// Where it cannot be built (no compiler, no headers, not Linux) the install goes on and says so in one
// line; the commands then give the runtime's helper threads nice 19 instead.
import { spawnSync } from 'node:child_process';

const build = spawnSync('node-gyp', ['rebuild'], { encoding: 'utf8', shell: process.platform === 'win32' });
if (build.status !== 0) {
  const lines = `${build.stderr ?? ''}\n${build.stdout ?? ''}`.split('\n').map((l) => l.replace(/^gyp ERR!\s*/, '').trim());
  const phase = lines.find((l) => /^\w+ error$/.test(l));
  const cause = lines.find((l) => l.startsWith('stack Error: '))?.slice('stack Error: '.length);
  const why = build.error?.message ?? ([phase, cause].filter(Boolean).join(': ') || `node-gyp exited with ${build.status}`);
  process.stderr.write(`udp-relay: the optional native helper was not built (${why.slice(0, 160)}); the commands work without it\n`);
}
