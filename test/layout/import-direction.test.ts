import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ESLint } from 'eslint';

// The lint rules that keep imports running one way (protocol <- core <- io <- cli; store drivers opened by
// io and cli only), checked on one import line put in a file of each folder.
const eslint = new ESLint();

async function complaint(file: string, from: string): Promise<string | undefined> {
  const [result] = await eslint.lintText(`import { x } from '${from}';\nexport const y = x;\n`, { filePath: file });
  return result!.messages.find((m) => m.ruleId === 'no-restricted-imports')?.message;
}

test('imports run one way: protocol <- core <- io <- cli', async () => {
  const forbidden: [string, string][] = [
    ['src/protocol/codec.ts', '../core/address.js'],
    ['src/protocol/codec.ts', '../store/store.js'],
    ['src/core/liveness.ts', '../io/clock.js'],
    ['src/core/server/server-core.ts', '../../cli/format.js'],
    ['src/core/server/server-core.ts', '../../store/sqlite-store.js'],
    ['src/core/server/server-core.ts', '../../store/open-store.js'],
    ['src/core/server/server-core.ts', 'node:fs'],
    ['src/store/sqlite-store.ts', '../core/address.js'],
    ['src/store/memory-store.ts', '../io/clock.js'],
    ['src/io/reader-runtime.ts', '../cli/format.js'],
  ];
  for (const [file, from] of forbidden) assert.ok(await complaint(file, from), `${file} importing ${from} is refused`);
  const allowed: [string, string][] = [
    ['src/core/server/server-core.ts', '../../protocol/codec.js'],
    ['src/core/server/server-core.ts', '../../store/store.js'],
    ['src/core/server/server-core.ts', '../../store/store-request.js'],
    ['src/core/reader/reader-core.ts', '../client-auth.js'],
    ['src/io/server-runtime.ts', '../store/store.js'],
    ['src/io/reader-runtime.ts', '../core/reader/reader-core.js'],
    ['src/cli/run-server.ts', '../store/open-store.js'],
    ['src/cli/run-reader.ts', '../io/reader-runtime.js'],
  ];
  for (const [file, from] of allowed) assert.equal(await complaint(file, from), undefined, `${file} may import ${from}`);
});
