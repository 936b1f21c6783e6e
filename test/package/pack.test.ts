import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** What `npm pack` would put in the tarball (dist/ is built by npm test before the tests run). */
const packed = (): string[] => {
  const [report] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--ignore-scripts', '--json'], { cwd: ROOT, encoding: 'utf8' })) as [
    { files: { path: string }[] },
  ];
  return report.files.map((f) => f.path);
};

/** The files a module names with a relative import or export (static or dynamic, code or types). */
const relativeImports = (file: string): string[] =>
  [...readFileSync(join(ROOT, file), 'utf8').matchAll(/(?:\bfrom|\bimport)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => normalize(join(dirname(file), m[1]!)));

test('the package holds LICENSE, README and what the commands and the library need, and nothing else', () => {
  const files = new Set(packed());
  for (const needed of ['LICENSE', 'README.md', 'package.json', 'binding.gyp', 'native/thread-priority.c', 'scripts/install-native.mjs']) {
    assert.ok(files.has(needed), `${needed} is not in the package`);
  }
  assert.deepEqual([...files].filter((f) => f.endsWith('.map')), [], 'source maps that point at sources the package does not hold');

  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    bin: Record<string, string>;
    exports: { '.': { types: string; default: string }; './package.json': string };
    types: string;
    scripts: { install: string };
  };
  // Every entry point is packed, and everything packed is reached from one: the commands, the library
  // (code and types), the install step.
  const entries = [...Object.values(manifest.bin), manifest.exports['.'].default, manifest.exports['.'].types, manifest.types, manifest.exports['./package.json']].map((p) =>
    normalize(p),
  );
  for (const entry of entries) assert.ok(files.has(entry), `${entry} (an entry point) is not in the package`);
  const reached = new Set<string>();
  const queue = [...entries, 'scripts/install-native.mjs'];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (reached.has(file)) continue;
    reached.add(file);
    if (!/\.(m?js|d\.ts)$/.test(file)) continue;
    for (const target of relativeImports(file)) {
      // A type import names the .js file; its declarations are the .d.ts beside it.
      const found = file.endsWith('.d.ts') ? target.replace(/\.js$/, '.d.ts') : target;
      assert.ok(files.has(found), `${file} imports ${found}, which is not in the package`);
      queue.push(found);
    }
  }
  // Declarations travel with their code; a module of types alone compiles to an empty one beside them.
  const typesOnly = (f: string): boolean => f.endsWith('.js') && readFileSync(join(ROOT, f), 'utf8').trim() === 'export {};' && reached.has(f.replace(/\.js$/, '.d.ts'));
  const used = (f: string): boolean => reached.has(f) || (f.endsWith('.d.ts') && reached.has(f.replace(/\.d\.ts$/, '.js'))) || typesOnly(f);
  const code = [...files].filter((f) => /\.(m?js|d\.ts)$/.test(f));
  assert.deepEqual(code.filter((f) => !used(f)), [], 'packed code that no command, library entry or install step uses');
});
