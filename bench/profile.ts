import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { relayThroughput, withNodeFlags, type ThroughputResult } from './relay.js';
import { commandOf, COMMANDS, summarize, type CpuProfile, type ProcessProfile } from './cpu-profile.js';

/**
 * `seq 1 N` writer → server (sqlite) → reader, as in the throughput section, with V8's sampling CPU
 * profiler on in each of the three processes (`--cpu-prof`).
 */
export async function profiledThroughput(n: number): Promise<{ run: ThroughputResult; profiles: ProcessProfile[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'relay-bench-prof-'));
  try {
    const run = await withNodeFlags(['--cpu-prof', `--cpu-prof-dir=${dir}`], () => relayThroughput(n, ['--store', 'sqlite']));
    const profiles = readdirSync(dir).flatMap((f) => {
      const profile = JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile;
      const command = commandOf(profile);
      return command ? [{ command, ...summarize(profile) }] : [];
    });
    const missing = COMMANDS.filter((c) => !profiles.some((p) => p.command === c));
    if (missing.length > 0) throw new Error(`no CPU profile of ${missing.join(', ')}`);
    return { run, profiles: COMMANDS.map((c) => profiles.find((p) => p.command === c)!) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
