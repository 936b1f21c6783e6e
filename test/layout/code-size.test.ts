import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';

// Small modules and short functions: a file of src/ reads in one sitting, a function at once.
const FILE_LINES_MAX = 400;
const FUNCTION_LINES_MAX = 80;

const sources = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });

/** Every function, method, arrow and accessor with a body: where it starts and how many lines it spans. */
export function functionLengths(path: string, text: string): { where: string; lines: number }[] {
  const file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  const out: { where: string; lines: number }[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = file.getLineAndCharacterOfPosition(node.getStart(file)).line;
      const end = file.getLineAndCharacterOfPosition(node.getEnd()).line;
      out.push({ where: `${path}:${start + 1}`, lines: end - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return out;
}

test(`no file of src/ is over ${FILE_LINES_MAX} lines`, () => {
  const files = sources('src');
  assert.ok(files.length > 50);
  const long = files.map((f) => ({ f, lines: readFileSync(f, 'utf8').split('\n').length - 1 })).filter((x) => x.lines > FILE_LINES_MAX);
  assert.deepEqual(long, []);
});

test(`no function of src/ is over ${FUNCTION_LINES_MAX} lines`, () => {
  const long = sources('src').flatMap((f) => functionLengths(f, readFileSync(f, 'utf8'))).filter((x) => x.lines > FUNCTION_LINES_MAX);
  assert.deepEqual(long, []);
});

test('the measure counts what it should: a long method, arrow or function is seen, a short one is not', () => {
  const body = (n: number): string => Array.from({ length: n - 2 }, (_, i) => `  x += ${i};`).join('\n');
  const text = [
    `function a() {\n${body(81)}\n}`,
    `const b = () => {\n${body(5)}\n};`,
    `class C {\n m() {\n${body(90)}\n }\n get g() { return 1; }\n}`,
  ].join('\n');
  const lengths = functionLengths('x.ts', text);
  assert.deepEqual(lengths.map((l) => l.lines), [81, 5, 90, 1]);
  assert.deepEqual(lengths.filter((l) => l.lines > FUNCTION_LINES_MAX).map((l) => l.where), ['x.ts:1', 'x.ts:88']);
});
