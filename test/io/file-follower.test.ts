import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open, type FileHandle } from 'node:fs/promises';
import { after, test } from 'node:test';
import { FileFollower, FOLLOWED_FILES_MAX } from '../../src/io/follow/file-follower.js';
import { decodeMark, encodeMark, forgetMark } from '../../src/io/follow/file-mark.js';
import { expandPatterns, patternProblem } from '../../src/io/follow/file-patterns.js';
import type { WriterMark } from '../../src/protocol/packets.js';

// The follower on real files: what it hands on (lines with their file, and marks) as files grow, are
// rotated, truncated, appear later, and as a run resumes from marks.

const root = mkdtempSync(join(tmpdir(), 'relay-follower-'));
let dirs = 0;
after(() => rmSync(root, { recursive: true, force: true }));
const newDir = (): string => {
  const d = join(root, `d${++dirs}`);
  mkdirSync(d);
  return d;
};

interface Seen {
  lines: string[];
  marks: WriterMark[];
  warnings: string[];
  /** What it says at --log-level debug. */
  traces: string[];
  /** Marks queued since the last flush: what would wait unsent. */
  unflushed: number;
}

function follower(
  patterns: string[],
  opts: { fromStart?: boolean; lingerMs?: number; maxLineBytes?: number; openFile?: (path: string) => Promise<FileHandle> } = {},
): { f: FileFollower; seen: Seen } {
  const seen: Seen = { lines: [], marks: [], warnings: [], traces: [], unflushed: 0 };
  const f = new FileFollower({
    patterns,
    fromStart: opts.fromStart ?? false,
    maxLineBytes: opts.maxLineBytes ?? 1 << 20,
    pollMs: 20,
    lingerMs: opts.lingerMs ?? 100,
    ...(opts.openFile && { openFile: opts.openFile }),
    warn: (m) => seen.warnings.push(m),
    trace: (m) => seen.traces.push(m),
    sink: {
      line: (bytes, start, end, file) => seen.lines.push(`${file.split('/').pop()}:${bytes.toString('utf8', start, end)}`),
      oversize: (bytes) => seen.lines.push(`oversize ${bytes}`),
      mark: (m) => {
        seen.marks.push(m);
        seen.unflushed++;
      },
      markAhead: (m) => {
        seen.marks.push(m);
        seen.unflushed++;
      },
      accepting: true,
      flushed: () => (seen.unflushed = 0),
    },
  });
  return { f, seen };
}

const until = async (what: () => boolean, ms = 3_000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!what()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

/** A first run that reads `text` (its `lines` lines) written to `path` from its start: its last mark. */
async function firstRunMark(path: string, text: string, lines: number): Promise<WriterMark> {
  writeFileSync(path, text);
  const first = follower([path], { fromStart: true });
  await first.f.start([], false);
  await until(() => first.seen.lines.length >= lines);
  await first.f.stop();
  return first.seen.marks.at(-1)!;
}

/** The latest place each file's marks say, by device:inode (removed ones gone). */
const places = (marks: WriterMark[]): Map<string, number> => {
  const out = new Map<string, number>();
  for (const m of marks) {
    const key = m.key.toString('hex');
    if (m.value.length === 0) out.delete(key);
    else out.set(key, decodeMark(m)!.place.offset);
  }
  return out;
};

test('a first run starts at the end of existing files (or their start, told so); files that appear later from their start', async () => {
  const d = newDir();
  writeFileSync(join(d, 'a.log'), 'old 1\nold 2\n');
  const { f, seen } = follower([join(d, '*.log')]);
  await f.start([], false);
  appendFileSync(join(d, 'a.log'), 'new 1\n');
  writeFileSync(join(d, 'b.log'), 'b 1\n');
  writeFileSync(join(d, 'c.txt'), 'not matched\n');
  await until(() => seen.lines.length >= 2);
  await f.stop();
  assert.deepEqual(seen.lines.sort(), ['a.log:new 1', 'b.log:b 1']);

  const { f: g, seen: all } = follower([join(d, 'a.log')], { fromStart: true });
  await g.start([], false);
  await until(() => all.lines.length >= 3);
  await g.stop();
  assert.deepEqual(all.lines, ['a.log:old 1', 'a.log:old 2', 'a.log:new 1']);
});

test('a run resumes from its marks; a line not yet ended waits for its newline; a marked file that is gone is given up, with one warning', async () => {
  const d = newDir();
  const a = join(d, 'a.log');
  writeFileSync(a, 'one\ntwo\nthr');
  const first = follower([a], { fromStart: true });
  await first.f.start([], false);
  await until(() => first.seen.lines.length >= 2);
  await first.f.stop();
  assert.deepEqual(first.seen.lines, ['a.log:one', 'a.log:two']);
  const mark = first.seen.marks.at(-1)!;
  assert.equal(decodeMark(mark)!.place.offset, 8, 'after "two\\n": the unended line is not passed');
  appendFileSync(a, 'ee\nfour\n');
  const gone = forgetMark({ dev: 1n, ino: 999_999_999n });
  const goneMark = encodeMark({ dev: 1n, ino: 999_999_999n }, { offset: 5, fpBytes: 0, fp: Buffer.alloc(8) });
  assert.deepEqual(gone.key, goneMark.key);
  const second = follower([a]);
  await second.f.start([mark, goneMark], true);
  await until(() => second.seen.lines.length >= 2);
  await second.f.stop();
  assert.deepEqual(second.seen.lines, ['a.log:three', 'a.log:four']);
  assert.equal(second.seen.warnings.filter((w) => /is gone/.test(w)).length, 1);
  assert.ok(second.seen.marks.some((m) => m.key.equals(gone.key) && m.value.length === 0), 'its mark is removed');
});

test('renamed away: read to its end, the new file from its start, the old one let go after a quiet spell (its mark removed)', async () => {
  const d = newDir();
  const a = join(d, 'app.log');
  writeFileSync(a, '');
  const { f, seen } = follower([a]);
  await f.start([], false);
  appendFileSync(a, '1\n2\n');
  await until(() => seen.lines.length >= 2);
  appendFileSync(a, '3\n');
  renameSync(a, `${a}.1`);
  appendFileSync(`${a}.1`, '4\n');
  writeFileSync(a, '5\n');
  await until(() => seen.lines.length >= 5);
  assert.deepEqual(seen.lines, ['app.log:1', 'app.log:2', 'app.log:3', 'app.log:4', 'app.log:5']);
  await until(() => f.followed.length === 1);
  await new Promise((r) => setTimeout(r, 60));
  await f.stop();
  assert.equal(places(seen.marks).size, 1, 'only the file at the path is still marked');
  assert.ok(seen.traces.some((t) => /^let go of .*app\.log \(inode \d+\) at 8$/.test(t)), seen.traces.join('\n'));
  assert.ok(seen.traces.some((t) => /^following .*app\.log \(inode \d+, 2 bytes\) from 0$/.test(t)), seen.traces.join('\n'));
  // The mark that lets it go is sent at once, not left waiting for a line to carry it.
  assert.equal(seen.unflushed, 0);
});

test('copied and truncated: the rest comes from the copy next to it, then the file again from its start, with one warning', async () => {
  const d = newDir();
  const a = join(d, 'app.log');
  writeFileSync(a, '');
  const { f, seen } = follower([a], { lingerMs: 50 });
  await f.start([], false);
  appendFileSync(a, 'line 01 of the first file, long enough for a fingerprint of 64 bytes\n');
  await until(() => seen.lines.length >= 1);
  await f.stop(); // paused, so that lines arrive while nobody reads: then rotated
  appendFileSync(a, 'line 02\n');
  const mark = seen.marks.at(-1)!;
  copyFileSync(a, `${a}.1`);
  truncateSync(a, 0);
  appendFileSync(a, 'line 03, in the new file\n');
  const next = follower([a], { lingerMs: 50 });
  await next.f.start([mark], true);
  await until(() => next.seen.lines.length >= 2);
  await next.f.stop();
  assert.deepEqual(next.seen.lines, ['app.log.1:line 02', 'app.log:line 03, in the new file']);
  assert.equal(next.seen.warnings.length, 1);
  assert.match(next.seen.warnings[0]!, /not as it was .* from its copy .*app\.log\.1/);
});

test('a file deleted and made again is a new file: the old one is read to its end; a line over the limit is reported and skipped', async () => {
  const d = newDir();
  const a = join(d, 'app.log');
  writeFileSync(a, '');
  const { f, seen } = follower([a], { maxLineBytes: 10 });
  await f.start([], false);
  appendFileSync(a, 'short\n' + 'x'.repeat(50) + '\nafter\n');
  await until(() => seen.lines.length >= 3);
  unlinkSync(a);
  writeFileSync(a, 'again\n');
  await until(() => seen.lines.length >= 4);
  await f.stop();
  assert.deepEqual(seen.lines, ['app.log:short', 'oversize 50', 'app.log:after', 'app.log:again']);
});

test(`at most ${FOLLOWED_FILES_MAX} files at once: the others are reported once and left`, async () => {
  const d = newDir();
  for (let i = 0; i < FOLLOWED_FILES_MAX + 2; i++) writeFileSync(join(d, `f${String(i).padStart(3, '0')}.log`), `${i}\n`);
  const { f, seen } = follower([join(d, '*.log')], { fromStart: true });
  await f.start([], false);
  await until(() => seen.lines.length >= FOLLOWED_FILES_MAX);
  await new Promise((r) => setTimeout(r, 100));
  await f.stop();
  assert.equal(seen.lines.length, FOLLOWED_FILES_MAX);
  assert.equal(seen.warnings.length, 2, seen.warnings.join('\n'));
});

test('patterns: * and ? in the file name only, matches sorted, each file once', async () => {
  const d = newDir();
  for (const n of ['b.log', 'a.log', 'a.txt', 'ab.log']) writeFileSync(join(d, n), '');
  assert.deepEqual(await expandPatterns([join(d, '?.log'), join(d, '*.log'), join(d, 'missing.log')], 100), [
    join(d, 'a.log'),
    join(d, 'b.log'),
    join(d, 'ab.log'),
    join(d, 'missing.log'),
  ]);
  assert.match(patternProblem('logs-*/app.log')!, /file name only/);
  assert.equal(patternProblem('logs/app-*.log'), undefined);
});

test('a file let go and found again under a followed name goes on where it was, not from its start', async () => {
  const d = newDir();
  const a = join(d, 'app.log');
  writeFileSync(a, 'one\n');
  const { f, seen } = follower([a], { fromStart: true, lingerMs: 30 });
  await f.start([], false);
  await until(() => seen.lines.length >= 1);
  renameSync(a, `${a}.away`);
  await until(() => f.followed.length === 0);
  renameSync(`${a}.away`, a);
  appendFileSync(a, 'two\n');
  await until(() => seen.lines.length >= 2);
  await new Promise((r) => setTimeout(r, 100));
  await f.stop();
  assert.deepEqual(seen.lines, ['app.log:one', 'app.log:two']);
});

test('a followed file copied and then deleted while the writer was down: the rest comes from its copy, with one warning', async () => {
  const d = newDir();
  const a = join(d, 'app.log');
  const mark = await firstRunMark(a, 'line 01 of the first file, long enough for a fingerprint of 64 bytes\n', 1);
  appendFileSync(a, 'line 02\n');
  copyFileSync(a, `${a}.old`);
  unlinkSync(a);
  const next = follower([a]);
  await next.f.start([mark], true);
  await until(() => next.seen.lines.length >= 1);
  await new Promise((r) => setTimeout(r, 60));
  await next.f.stop();
  assert.deepEqual(next.seen.lines, ['app.log.old:line 02']);
  assert.equal(next.seen.warnings.length, 1, next.seen.warnings.join('\n'));
  assert.match(next.seen.warnings[0]!, /is gone: the rest of what it held is read from its copy .*app\.log\.old/);
});

test('a file rotated between being listed and being opened: each file read once, from its own place, its marks under its own key', async () => {
  const d = newDir();
  const a = join(d, 'app.log');
  const mark = await firstRunMark(a, 'old 1\nold 2\n', 2);
  appendFileSync(a, 'old 3\n'); // written while the writer was down
  // The next run lists app.log, and before it opens it the log is rotated: renamed away, a new one made.
  let rotated = false;
  const second = follower([a], {
    openFile: async (path) => {
      if (path === a && !rotated) {
        rotated = true;
        renameSync(a, `${a}.1`);
        writeFileSync(a, 'new 1\n');
      }
      return open(path, 'r');
    },
  });
  await second.f.start([mark], true);
  await until(() => second.seen.lines.length >= 2);
  await second.f.settle();
  await second.f.settle();
  await second.f.stop();
  assert.ok(rotated);
  assert.deepEqual(second.seen.lines.sort(), ['app.log.1:old 3', 'app.log:new 1'], 'the rest of the old file from its mark, the new one from its start, each once');
  const byKey = places(second.seen.marks);
  assert.equal(byKey.get(mark.key.toString('hex')), 18, 'the old file\'s mark: after "old 3"');
  assert.equal(byKey.size, 2, 'a mark for each file, under its own key');
  assert.deepEqual(second.seen.warnings, []);
});
