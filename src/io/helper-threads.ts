import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { setPriority } from 'node:os';

/**
 * Every thread of a relay process but the event loop's is helper work that can wait: V8's compiler and
 * garbage-collector helpers, libuv's pool, the store's checkpoint worker. On a small machine a helper
 * that compiles a hot function takes a core for a whole scheduler tick (4 ms at HZ=250) and the event
 * loops of the relay processes queue behind it; that was most of the latency tail in a process's
 * first seconds. In Linux's SCHED_IDLE class a helper runs only on an otherwise idle core and gives it
 * up the moment another thread wakes. A nice value alone does not do that (a nice-19 thread still
 * keeps the core to the end of its slice), so it is only the fallback where the native part is absent.
 */

interface ThreadPriority {
  setIdle(tid: number): boolean;
}

export type HelperPolicy = 'idle' | 'nice' | 'unchanged';

export interface HelperSweep {
  /** Threads moved behind the event loop by this sweep. */
  moved: number;
  policy: HelperPolicy;
}

const NICE_LOWEST = 19;
const RESWEEP_MS = 10_000;

/** The native part, built at install; absent where no compiler was at hand. */
function loadNative(): ThreadPriority | undefined {
  try {
    return createRequire(import.meta.url)('../../build/Release/thread_priority.node') as ThreadPriority;
  } catch {
    return undefined;
  }
}

let native: ThreadPriority | undefined | null = null;
const done = new Set<number>();

const threadIds = (): number[] => {
  try {
    return readdirSync('/proc/self/task').map(Number);
  } catch {
    return [];
  }
};

/** Moves the helper threads that exist now (and were not moved before) behind the event loop thread. */
export function sweepHelperThreads(): HelperSweep {
  if (process.platform !== 'linux') return { moved: 0, policy: 'unchanged' };
  if (native === null) native = loadNative();
  let moved = 0;
  let policy: HelperPolicy = native ? 'idle' : 'nice';
  for (const tid of threadIds()) {
    // On Linux the event loop's thread id is the process id.
    if (tid === process.pid || done.has(tid)) continue;
    done.add(tid);
    if (native && tryIdle(native, tid)) {
      moved++;
      continue;
    }
    try {
      setPriority(tid, NICE_LOWEST);
      policy = 'nice';
      moved++;
    } catch {
      // The thread has ended since the directory was read, or the system refuses: it keeps its priority.
    }
  }
  return { moved, policy };
}

function tryIdle(n: ThreadPriority, tid: number): boolean {
  try {
    return n.setIdle(tid);
  } catch {
    return false;
  }
}

/**
 * Sweeps now and then every few seconds: libuv starts its pool on first use and a store may start
 * workers later, and a new thread takes its creator's (the event loop's) priority.
 */
export function keepHelperThreadsBehind(onSweep?: (sweep: HelperSweep) => void): void {
  const sweep = (): void => {
    const s = sweepHelperThreads();
    if (s.moved > 0) onSweep?.(s);
  };
  sweep();
  if (process.platform === 'linux') setInterval(sweep, RESWEEP_MS).unref();
}
