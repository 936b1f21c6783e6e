import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const impure = ['node:dgram', 'node:net', 'node:fs', 'node:fs/promises', 'node:dns', 'node:dns/promises', 'node:child_process', 'node:perf_hooks', 'node:crypto', 'node:timers'];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'relay-data/', 'bench/results/', 'reports/', '.stryker-tmp/'] },
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
      'no-restricted-imports': ['error', { paths: impure.map((name) => ({ name, message: 'I/O belongs in src/io' })) }],
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
  {
    files: ['bin/**/*.js', 'bench/**/*.{js,mjs,ts}', 'demo/**/*.js', 'scripts/**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', performance: 'readonly' } },
  },
);
