import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import yargs, { type Argv } from 'yargs';
import { keepHelperThreadsBehind } from '../io/helper-threads.js';
import { defaultConfigPath, readConfigFile } from './config-file.js';
import { ExitCode, UserError } from './exit-codes.js';
import { LOG_LEVELS } from './logger.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
export const VERSION = pkg.version;

/** The parser every command starts from: RELAY_* environment, strict options, one-line usage errors. */
export function baseParser(name: string, argv: string[]): Argv {
  const parser: Argv = yargs(argv);
  return parser
    .scriptName(name)
    .parserConfiguration({ 'duplicate-arguments-array': false })
    .env('RELAY')
    .strict()
    .version(VERSION)
    .help()
    .alias('h', 'help')
    // `run-writer completion >> ~/.bashrc` (or ~/.zshrc, from zsh): tab completes options and their choices.
    .completion(
      'completion',
      'Print a completion script for bash (for zsh when run from zsh) and exit',
      (_current: string, _argv: unknown, defaults: (done: (err: Error | null, completions: string[] | undefined) => void) => void, done: (c: string[]) => void) => {
        // One-letter aliases (-u) are for typing; offered as --u they only crowd the list.
        defaults((_err, completions) => done((completions ?? []).filter((c) => !/^--\w$/.test(c))));
      },
    )
    .wrap(Math.min(100, process.stdout.columns || 100))
    .option('log-level', {
      choices: LOG_LEVELS,
      default: 'info' as const,
      describe: 'Diagnostics on stderr from this level up',
    })
    // Flags, then RELAY_* variables, then the file, then the defaults (yargs' order).
    .option('config', {
      type: 'string',
      default: defaultConfigPath(),
      defaultDescription: '$XDG_CONFIG_HOME/udp-relay/config.json, when it exists',
    })
    .config('config', 'Options from a JSON file: {"option-name": value, ...}, one file for every command', (path: string) =>
      readConfigFile(path, sayTo(name)),
    )
    // One environment serves every command (RELAY_DATA_DIR for the server, RELAY_USERNAME for clients):
    // a RELAY_* variable that is not an option of this command is no business of it. Flags stay strict.
    .middleware((args) => {
      const known = declaredNames(parser);
      for (const key of Object.keys(args)) {
        if (key === '_' || key === '$0' || known.has(key)) continue;
        const flag = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
        if (!argv.some((a) => a === `--${flag}` || a.startsWith(`--${flag}=`) || a === `--${key}` || a.startsWith(`--${key}=`))) delete args[key];
      }
    }, true)
    // A number option given a word is NaN to yargs: the checks that follow name the word as it was given.
    .middleware((args) => {
      for (const [key, value] of Object.entries(args)) {
        if (typeof value === 'number' && Number.isNaN(value)) args[key] = givenText(argv, key) ?? 'not a number';
      }
    }, true)
    .fail((msg: string | undefined, err: Error | undefined) => {
      if (err instanceof UserError) throw err;
      // yargs checks required options before unknown ones: `--usrname x` would say the username is missing.
      const unknown = msg?.startsWith('Missing required argument') ? unknownFlags(argv, declaredNames(parser)) : [];
      if (unknown.length > 0) msg = `Unknown argument${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`;
      const text = (msg ?? err?.message ?? 'bad arguments').replace(/\s*\n\s*/g, ' ');
      throw new UserError(`${text} (see ${name} --help)`, ExitCode.Usage);
    });
}

/** What was given for option `key` (camelCase or dashed): on the command line, or in its RELAY_* variable. */
function givenText(argv: string[], key: string): string | undefined {
  const flag = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  for (let i = argv.length - 1; i >= 0; i--) {
    const a = argv[i]!;
    if (a.startsWith(`--${flag}=`)) return a.slice(flag.length + 3);
    if (a === `--${flag}` && i + 1 < argv.length) return argv[i + 1];
  }
  return process.env[`RELAY_${flag.replace(/-/g, '_').toUpperCase()}`];
}

/** Every name an option of this parser answers to: as declared, its aliases, and their camelCase forms. */
function declaredNames(parser: Argv): Set<string> {
  // getOptions is yargs' own record of what was declared (not in its type definitions).
  const options = (parser as unknown as { getOptions(): { key: Record<string, unknown>; alias: Record<string, string[]> } }).getOptions();
  const known = new Set<string>();
  for (const key of [...Object.keys(options.key), ...Object.keys(options.alias), ...Object.values(options.alias).flat()]) {
    known.add(key);
    known.add(key.replace(/-([a-z])/g, (_m: string, c: string) => c.toUpperCase()));
  }
  return known;
}

/** The flags on the command line (`--name`, `--name=value`, `--no-name`, `-x`) that name no option. */
function unknownFlags(argv: string[], known: Set<string>): string[] {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end))
    .map((a) => /^--?([^-=\d][^=]*)/.exec(a)?.[1]) // not a negative number
    .filter((flag): flag is string => flag !== undefined && !known.has(flag) && !(flag.startsWith('no-') && known.has(flag.slice(3))));
}

export interface Example {
  /** The command line, `$0` for the command's name. */
  command: string;
  does: string;
}

/**
 * The examples under the options, each command on a line of its own: yargs' own examples share a line
 * with their description, and a long command wraps in the middle at 80 columns.
 */
export const examplesText = (name: string, examples: readonly Example[]): string =>
  ['Examples:', ...examples.flatMap((e) => [`  ${e.command.replace('$0', name)}`, `      ${e.does}`])].join('\n');

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
