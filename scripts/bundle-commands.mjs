// Each command as one ES module in dist/commands/: a command starts by loading one file instead of a
// hundred or so (resolving, reading and linking each costs time on every start, and `tail -f | run-writer`
// waits for it). Modules that a command imports only when asked for (a store's driver) stay in chunks
// of their own; native and optional packages load from node_modules as usual.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

const COMMANDS = ['run-server', 'run-writer', 'run-reader', 'run-chat'];
const OUT = 'dist/commands';

rmSync(OUT, { recursive: true, force: true });
for (const command of COMMANDS) {
  await build({
    entryPoints: { [command]: `src/cli/${command}.ts` },
    outdir: OUT,
    bundle: true,
    splitting: true,
    chunkNames: `${command}-[name]-[hash]`,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['better-sqlite3', '@redis/client', 'pino-pretty'],
    // Bundled CommonJS packages (pino's) call require for Node's own modules.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    logLevel: 'warning',
  });
}
