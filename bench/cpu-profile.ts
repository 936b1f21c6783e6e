/** The part of V8's `.cpuprofile` format read here. */
export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProcessProfile {
  command: string;
  /** CPU time sampled busy (anything but idle), start-up included. */
  busyMs: number;
  /** Of which in V8's garbage collector. */
  gcMs: number;
  /** The functions with the most time of their own, busiest first. */
  top: { name: string; ms: number }[];
}

/** A sampled function's name: the function and its file (without the bundle's chunk hash), or V8's own label. */
const frameName = (f: { functionName: string; url: string; lineNumber: number }): string => {
  if (f.url === '') return f.functionName; // (garbage collector), (program), (idle)
  const file = f.url.split('/').at(-1)!.replace(/-chunk-[A-Z0-9]+/, '');
  // An unnamed function is told apart by its line (in the bundle: dist/commands/).
  return f.functionName ? `${f.functionName} ${f.url.startsWith('node:') ? f.url : file}` : `(anonymous) ${file}:${f.lineNumber + 1}`;
};

/** Self time by function, from one process's profile. */
export function summarize(profile: CpuProfile, topCount = 6): Omit<ProcessProfile, 'command'> {
  const frames = new Map(profile.nodes.map((n) => [n.id, frameName(n.callFrame)]));
  const self = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const name = frames.get(id)!;
    self.set(name, (self.get(name) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  self.delete('(idle)');
  const busyMs = [...self.values()].reduce((a, b) => a + b, 0);
  const top = [...self]
    .filter(([name]) => name !== '(garbage collector)')
    .sort((a, b) => b[1] - a[1])
    .slice(0, topCount)
    .map(([name, ms]) => ({ name, ms }));
  return { busyMs, gcMs: self.get('(garbage collector)') ?? 0, top };
}

/** The relay's commands, in the order of a line's path. */
export const COMMANDS = ['run-writer', 'run-server', 'run-reader'];

/** Which command a profile is of: the bundle its code was loaded from. */
export const commandOf = (profile: CpuProfile): string | undefined => COMMANDS.find((c) => profile.nodes.some((n) => n.callFrame.url.endsWith(`/${c}.js`)));

