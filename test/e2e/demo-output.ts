import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Runs a command to its end and checks it succeeded; what it printed, stdout and stderr as they came. */
export async function runToEnd(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  const [code] = (await once(child, 'close')) as [number | null];
  assert.equal(code, 0, `${command} ${args.join(' ')}:\n${out}`);
  return out;
}

/** Runs demo/demo.sh to the end and checks that every part did what it says. */
export async function runDemo(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const out = await runToEnd('bash', ['demo/demo.sh'], env);
  // What each part shows (section by section, in the order the demo runs them).
  for (const shown of [
    /server on 127\.0\.0\.1:\d+; status page http:\/\/127\.0\.0\.1:\d+\//,
    /every session is encrypted; the server's key is SHA256:[A-Za-z0-9+/]{43} \(clients remember it on first contact\)/,
    /GET \/missing 404/,
    /"from":"db1","text":"load 0.42"/,
    /bob, the build is green/,
    /"text":"build 1234\\npassed: 87\\nfailed: 0\\n"/,
    /exit code 6: nothing new/,
    /ci +writer +offline/,
    /w1 took: job/,
    /run-chat over TCP/,
    /-- stored; bob has not chatted here yet: it is kept for bob's first chat/,
    /carol \(direct to bob\): a direct one/,
    /"topic":"logs\.db","id":1,.*"from":"db1","text":"slow query 2\.1 s"/,
    /then the room: no log line in it\n[^]*\d\d:\d\d:\d\d carol: deploying now\n/,
    /audit reads every log stream by a pattern[^]*\d\d:\d\d:\d\d logs\.(web web1: GET \/ 200|db db1: slow query 2\.1 s)\n/,
    /^relay_messages_stored_total 2\d$/m,
    /^relay_log_messages\{bound="next"\} 2\d$/m,
    /shipper \[app\.log\]: boot\n.*shipper \[app\.log\]: request 1\n.*shipper \[app\.log\]: request 2\n.*shipper \[app\.log\.1\]: request 3\n.*shipper \[app\.log\]: request 4\n/,
    /run-writer: server 127\.0\.0\.1:9 is not responding/,
    /three\n[^]*server A killed[^]*four\nfive\nsix\n/,
  ]) {
    assert.match(out, shown);
  }
  // The pattern's reader got the three log lines, each naming its topic, and not the room's line.
  const audit = /audit reads every log stream by a pattern[^\n]*\n((?:.*\n){3})/.exec(out)?.[1] ?? '';
  assert.deepEqual(audit.split('\n').filter(Boolean).map((l) => l.slice(20)).sort(), ['logs.db db1: slow query 2.1 s', 'logs.web web1: GET / 200', 'logs.web web1: GET /api 500']);
  // The queue group's workers took the nine jobs between them, each once.
  const jobs = [...out.matchAll(/^w\d took: (.*)$/gm)].flatMap((m) => m[1]!.split(',').filter(Boolean));
  assert.deepEqual(jobs.sort(), Array.from({ length: 9 }, (_, i) => `job ${i + 1}`).sort());
}
