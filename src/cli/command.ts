import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import yargs, { type Argv } from 'yargs';
import { keepHelperThreadsBehind } from '../io/helper-threads.js';
import { ExitCode, UserError } from './exit-codes.js';
import { LOG_LEVELS } from './logger.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
export const VERSION = pkg.version;

/** The parser every command starts from: RELAY_* environment, strict options, one-line usage errors. */
export function baseParser(name: string, argv: string[]): Argv {
  return yargs(argv)
    .scriptName(name)
    .parserConfiguration({ 'duplicate-arguments-array': false })
    .env('RELAY')
    .strict()
    .version(VERSION)
    .help()
    .alias('h', 'help')
    .wrap(Math.min(100, process.stdout.columns || 100))
    .option('log-level', {
      choices: LOG_LEVELS,
      default: 'info' as const,
      describe: 'Diagnostics on stderr from this level up',
    })
    .fail((msg: string | undefined, err: Error | undefined) => {
      const text = (msg ?? err?.message ?? 'bad arguments').replace(/\s*\n\s*/g, ' ');
      throw new UserError(`${text} (see ${name} --help)`, ExitCode.Usage);
    });
}

export const usage = (message: string): UserError => new UserError(message, ExitCode.Usage);

/** Runs a command: expected failures print one line and exit with their code; bugs crash loudly. */
export function runCommand(name: string, main: () => Promise<number>): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      if (err instanceof UserError) {
        process.stderr.write(`${name}: ${err.message}\n`);
        process.exitCode = err.exitCode;
        return;
      }
      process.stderr.write(`${name}: internal error\n${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = ExitCode.Internal;
    },
  );
}

export const sayTo =
  (name: string) =>
  (line: string): void => {
    process.stderr.write(`${name}: ${line}\n`);
  };

/** Keeps the runtime's helper threads behind this process's event loop (see io/helper-threads). */
export function favourEventLoop(logger?: Logger): void {
  keepHelperThreadsBehind((s) => logger?.debug({ threads: s.moved, policy: s.policy }, `${s.moved} helper threads moved behind the event loop (${s.policy})`));
}
