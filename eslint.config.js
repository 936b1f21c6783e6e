import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const impure = ['node:dgram', 'node:net', 'node:fs', 'node:fs/promises', 'node:dns', 'node:dns/promises', 'node:child_process', 'node:perf_hooks', 'node:crypto', 'node:timers'];
const impureImports = impure.map((name) => ({ name, message: 'I/O belongs in src/io' }));

// Imports run one way: protocol <- core <- io <- monitor <- cli. The store's contract (its types, the requests a core
// makes, how failures are classed) is shared; the store drivers are opened by io and cli only.
const folders = (names) => `^(\\.\\./)+(${names.join('|')})/`;
const layers = {
  'src/protocol/**/*.ts': [{ regex: folders(['core', 'io', 'cli', 'store']), message: 'the protocol depends on nothing else in src/' }],
  'src/core/**/*.ts': [
    { regex: folders(['io', 'cli']), message: 'a core is sans-IO: io and cli build on it, not the other way' },
    { regex: '^(\\.\\./)+store/(?!(store|store-request|store-errors)\\.js$)', message: 'a core sees the store contract only, never a driver' },
  ],
  'src/store/**/*.ts': [{ regex: folders(['core', 'io', 'cli']), message: 'a store knows nothing of the relay above it' }],
  'src/io/**/*.ts': [{ regex: folders(['cli', 'monitor']), message: 'io is driven by cli: pass what it needs in (e.g. a render function)' }],
  'src/monitor/**/*.ts': [
    { regex: folders(['cli']), message: 'monitoring watches a running server; cli starts it' },
    { regex: '^(\\.\\./)+store/(?!(store|store-errors)\\.js$)', message: 'monitoring sees the store contract only, never a driver' },
  ],
};
const sansIo = new Set(['src/protocol/**/*.ts', 'src/core/**/*.ts']);
const importRules = Object.entries(layers).map(([files, patterns]) => ({
  files: [files],
  rules: { 'no-restricted-imports': ['error', { paths: sansIo.has(files) ? impureImports : [], patterns }] },
}));

export default tseslint.config(
  { ignores: ['dist/', 'test-artifacts/', 'node_modules/', 'relay-data/', 'bench/results/', 'reports/', '.stryker-tmp/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // The protocol and the cores are sans-IO: no sockets, files, clocks or timers.
    files: ['src/protocol/**/*.ts', 'src/core/**/*.ts'],
    rules: {
      'no-restricted-globals': [
        'error',
        ...['setTimeout', 'setInterval', 'setImmediate', 'performance', 'process'].map((name) => ({
          name,
          message: 'time and process state come in as arguments',
        })),
      ],
      'no-restricted-properties': ['error', { object: 'Date', property: 'now', message: 'time comes in as an argument' }],
    },
  },
  ...importRules,
  {
    files: ['bin/**/*.js', 'bench/**/*.{js,mjs,ts}', 'demo/**/*.js', 'scripts/**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', performance: 'readonly' } },
  },
);
