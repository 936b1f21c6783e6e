import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { FileFollower } from '../../src/io/follow/file-follower.js';
import { decodeMark } from '../../src/io/follow/file-mark.js';
import type { WriterMark } from '../../src/protocol/packets.js';

// A follower killed at every step of a rotation story, with every prefix of what it had queued stored
// (the server stores a writer's lines and marks as a prefix of what it sent; a line and the mark after it
// travel in one datagram, so no prefix ends between them): the next run, starting from the stored marks,
// sends each line the store lacks exactly once, each file's lines in order.

const root = mkdtempSync(join(tmpdir(), 'relay-follow-crash-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;

type Queued = { line: number } | { mark: WriterMark; ahead?: true };

/** Lines long enough that a file's first 64 bytes tell one file from another. */
const lines = (from: number, to: number): string => {
  let s = '';
  for (let i = from; i <= to; i++) s += `line ${String(i).padStart(4, '0')} of the log being shipped\n`;
  return s;
};

interface Step {
  act: (log: string) => void;
  /** Lines this step writes, and to which of the story's files (numbered from 1). */
  writes?: [file: number, from: number, to: number];
  /** A file this step creates at the followed path. */
  creates?: number;
  /** A file this step takes away from the followed path. */
  away?: { file: number; how: 'renamed' | 'copied' | 'deleted' };
}

/** A log file's life. Files 2 and 3 are one inode: the file before and after its copy-and-truncate. */
const STORY: Step[] = [
  { act: (log) => writeFileSync(log, lines(1, 3)), writes: [1, 1, 3], creates: 1 },
  { act: (log) => appendFileSync(log, lines(4, 6)), writes: [1, 4, 6] },
  {
    // Renamed, and written to a little more before the program writing it turns to a new file.
    act: (log) => {
      renameSync(log, `${log}.1`);
      appendFileSync(`${log}.1`, lines(7, 8));
    },
    writes: [1, 7, 8],
    away: { file: 1, how: 'renamed' },
  },
  { act: (log) => writeFileSync(log, ''), creates: 2 },
  { act: (log) => appendFileSync(log, lines(9, 11)), writes: [2, 9, 11] },
  { act: (log) => appendFileSync(log, lines(12, 13)), writes: [2, 12, 13] },
  {
    act: (log) => {
      copyFileSync(log, `${log}.copy`);
      truncateSync(log, 0);
    },
    away: { file: 2, how: 'copied' },
  },
  { act: (log) => appendFileSync(log, lines(14, 16)), writes: [3, 14, 16] },
  { act: (log) => appendFileSync(log, lines(17, 18)), writes: [3, 17, 18] },
  { act: (log) => unlinkSync(log), away: { file: 3, how: 'deleted' } },
  { act: (log) => writeFileSync(log, lines(19, 21)), writes: [4, 19, 21], creates: 4 },
  { act: (log) => renameSync(log, `${log}.2`), away: { file: 4, how: 'renamed' } },
  { act: (log) => writeFileSync(log, lines(22, 23)), writes: [5, 22, 23], creates: 5 },
];
const LAST = 23;
const fileOf: number[] = [];
for (const s of STORY) for (let n = s.writes?.[1] ?? 1; n <= (s.writes?.[2] ?? 0); n++) fileOf[n] = s.writes![0];

function follower(path: string, queue: Queued[], warnings: string[]): FileFollower {
  return new FileFollower({
    patterns: [path],
    fromStart: true,
    maxLineBytes: 1 << 20,
    pollMs: 1e9,
    lingerMs: 0,
    warn: (m) => warnings.push(m),
    sink: {
      line: (bytes, start, end) => queue.push({ line: Number(/^line (\d+)/.exec(bytes.toString('utf8', start, end))![1]) }),
      oversize: () => assert.fail('no line is over the limit'),
      mark: (m) => queue.push({ mark: m }),
      markAhead: (m) => queue.push({ mark: m, ahead: true }),
      accepting: true,
      flushed: () => {},
    },
  });
}

/** The store: a writer's lines and its marks (the latest per key, removed ones gone). */
class Store {
  lines: number[] = [];
  private readonly marks = new Map<string, WriterMark>();
  any = false;

  add(queued: Queued[]): void {
    for (const q of queued) {
      this.any = true;
      if ('line' in q) this.lines.push(q.line);
      else if (q.mark.value.length === 0) this.marks.delete(q.mark.key.toString('hex'));
      else this.marks.set(q.mark.key.toString('hex'), q.mark);
    }
  }

  get stored(): WriterMark[] {
    return [...this.marks.values()];
  }
}

interface Crash {
  got: number[];
  /** Lines no run could know of: unsent lines of a file taken away while nobody read (see `mayLose`). */
  unknowable: Set<number>;
  said: string;
}

interface Kill {
  /** Killed after this many steps. */
  after: number;
  /** How many of what it sent were stored ('ahead': its marks sent ahead of the queue, and nothing else). */
  keep: number | 'ahead';
  /**
   * The order it sent in: as queued (nothing waited), or its marks sent ahead of the queue first (a writer
   * far behind: none of its lines were sent before it queued the last of them). Real runs lie in between.
   */
  aheadFirst?: boolean;
}

/**
 * Runs the story with a follower killed after each crash's step, the first `keep` items of what that run
 * sent stored; the step after it happens while nobody reads; the next run starts from the store.
 * Undefined: no such prefix can be stored (a line and the mark after it travel in one datagram), or `keep`
 * is past what was queued (then `past` is set).
 */
async function runWithCrashes(crashes: Kill[], past?: { is: boolean }): Promise<Crash | undefined> {
  const dir = join(root, `d${++dirs}`);
  mkdirSync(dir);
  const log = join(dir, 'app.log');
  const inode = new Map<number, bigint>();
  const act = (s: Step): void => {
    s.act(log);
    if (s.creates) inode.set(s.creates, statSync(log, { bigint: true }).ino);
    if (s.creates === 2) inode.set(3, inode.get(2)!);
  };
  const warnings: string[] = [];
  const store = new Store();
  const unknowable = new Set<number>();
  let step = 0;
  for (const crash of [...crashes, { after: STORY.length, keep: Infinity }] as Kill[]) {
    const queued: Queued[] = [];
    const run = follower(log, queued, warnings);
    await run.start(store.stored, store.any);
    for (; step < crash.after; step++) {
      act(STORY[step]!);
      await run.settle();
    }
    await run.settle();
    await run.stop();
    if (crash.keep === Infinity) {
      store.add(queued);
      break;
    }
    const isAhead = (q: Queued): boolean => 'ahead' in q;
    const sent = crash.aheadFirst || crash.keep === 'ahead' ? [...queued.filter(isAhead), ...queued.filter((q) => !isAhead(q))] : queued;
    const keep = crash.keep === 'ahead' ? queued.filter(isAhead).length : crash.keep;
    if (keep > sent.length && past) past.is = true;
    if (keep > sent.length || 'line' in (sent[keep - 1] ?? {})) return undefined;
    store.add(sent.slice(0, keep));
    // Killed: one step happens while nobody reads.
    if (step < STORY.length) act(STORY[step++]!);
    for (const s of STORY.slice(0, step)) {
      const away = s.away;
      if (!away) continue;
      const ofFile = store.stored.map(decodeMark).filter((m) => m?.id.ino === inode.get(away.file));
      for (let n = 1; n <= LAST; n++) if (fileOf[n] === away.file && mayLose(away.how, ofFile)) unknowable.add(n);
    }
  }
  const said = crashes.map((c) => `killed after step ${c.after} with ${c.keep} of what it sent${c.aheadFirst ? ' (marks ahead first)' : ''} stored`).join(', ');
  return { got: store.lines, unknowable, said: `${said}; said: ${warnings.join(' | ')}` };
}

/**
 * What nobody can ship, of a file taken away from the followed path before the next run started: the unsent
 * lines of a file deleted; of a file renamed away of which no mark was stored; of a file copied and truncated
 * of which no mark with its first bytes was stored (nothing tells its copy from any other file).
 */
function mayLose(how: 'renamed' | 'copied' | 'deleted', marksOfFile: unknown[]): boolean {
  if (how === 'deleted') return true;
  if (how === 'renamed') return marksOfFile.length === 0;
  return !marksOfFile.some((m) => (m as { place: { fpBytes: number } }).place.fpBytes > 0);
}

function exactlyOnce({ got, unknowable, said }: Crash): void {
  const counts = new Array<number>(LAST + 1).fill(0);
  for (const n of got) counts[n]!++;
  const wrong = counts.flatMap((c, n) => (n > 0 && c !== 1 && !(c === 0 && unknowable.has(n)) ? [`${n}×${c}`] : []));
  assert.deepEqual(wrong, [], said);
  for (let f = 1; f <= 5; f++) {
    const mine = got.filter((n) => fileOf[n] === f);
    assert.deepEqual(mine, [...mine].sort((x, y) => x - y), `file ${f} in order; ${said}`);
  }
}

test('killed at any step with any prefix of what it sent stored, the next run sends each line exactly once', async () => {
  let crashes = 0;
  for (const aheadFirst of [false, true]) {
    for (let after = 0; after <= STORY.length; after++) {
      for (let keep = 0; ; keep++) {
        const past = { is: false };
        const r = await runWithCrashes([{ after, keep, aheadFirst }], past);
        if (past.is) break;
        if (!r) continue;
        exactlyOnce(r);
        crashes++;
      }
    }
  }
  assert.ok(crashes > 400, `${crashes} crashes tried`);
});

test('killed twice, at random steps and prefixes: each line exactly once', async () => {
  let seed = 7;
  const random = (n: number): number => ((seed = (seed * 48_271) % 2_147_483_647), seed % n);
  let tried = 0;
  for (let i = 0; i < 2_000 && tried < 150; i++) {
    const first = random(STORY.length);
    const crashes = [
      { after: first, keep: random(40), aheadFirst: random(2) === 0 },
      { after: first + 1 + random(STORY.length - first), keep: random(40), aheadFirst: random(2) === 0 },
    ];
    const r = await runWithCrashes(crashes);
    if (!r) continue;
    exactlyOnce(r);
    tried++;
  }
  assert.equal(tried, 150);
});

test('a writer far behind (none of its lines stored) has told the store of each file it opened: a copy-and-truncate while it is down loses nothing', async () => {
  // Killed with file 2 opened and read (steps 3 to 5), before any of it was stored; copied and truncated while down.
  const r = (await runWithCrashes([{ after: 6, keep: 'ahead' }]))!;
  assert.deepEqual([...r.unknowable], [], r.said);
  exactlyOnce(r);
  assert.match(r.said, /not as it was when last followed .* from its copy .*app\.log\.copy/);
});
