/**
 * The one binary, behind the version check in cli.ts. No command: the MCP server on stdio (what
 * hosts run). `relay`: the relay. `doctor`, `config`, `import-cli`, `set-url`, `demo`, `help`:
 * for a human at a terminal, where stdout is theirs.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { type CommandName, commandUsage, HELP, isCommandName } from './commands/usage.js';
import { VERSION } from './version.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** A mistake in how the command was called: answered with the usage and exit 2. */
class UsageError extends Error {}

const HELP_FLAGS = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const satisfies Options;

const OPTIONS: Record<Exclude<CommandName, 'relay'>, Options> = {
  server: { url: { type: 'string' } },
  doctor: { url: { type: 'string' } },
  config: { url: { type: 'string' } },
  'import-cli': { from: { type: 'string' } },
  'set-url': { clear: { type: 'boolean' } },
  demo: {},
  help: {},
};

/** How many positionals each command takes. */
const POSITIONALS: Partial<Record<CommandName, number>> = { 'set-url': 1, help: 1 };

function parse(command: Exclude<CommandName, 'relay'>, args: string[]) {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: { ...HELP_FLAGS, ...OPTIONS[command] },
      strict: true,
      allowPositionals: true,
    });
    const most = POSITIONALS[command] ?? 0;
    if (positionals.length > most) {
      throw new UsageError(
        most === 0
          ? `unexpected argument "${positionals[0]}"`
          : `too many arguments: ${positionals.join(' ')}`,
      );
    }
    return { values: values as Record<string, string | boolean | undefined>, positionals };
  } catch (error) {
    if (error instanceof UsageError) throw error;
    // node:util's messages already say which flag and why; drop its "To specify…" advice.
    throw new UsageError((error as Error).message.split('. To ')[0] ?? 'invalid arguments');
  }
}

export async function main(argv: string[]): Promise<number> {
  const [first] = argv;
  const named = first !== undefined && !first.startsWith('-');
  if (named && !isCommandName(first)) {
    throw new UsageError(`unknown command "${first}"`);
  }
  const command: CommandName = named ? (first as CommandName) : 'server';
  if (command === 'relay') {
    const { runRelayCli } = await import('./relay/cli.js');
    return runRelayCli(argv.slice(1));
  }
  const { values, positionals } = parse(command, named ? argv.slice(1) : argv);
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (values.help) return help(command === 'server' ? undefined : command);
  const url = typeof values.url === 'string' ? values.url : undefined;
  switch (command) {
    case 'help':
      return help(positionals[0]);
    case 'demo': {
      const { runDemo } = await import('./demo.js');
      return runDemo();
    }
    case 'server': {
      const { runStdioServer } = await import('./mcp/stdio.js');
      await runStdioServer(url === undefined ? {} : { url });
      return -1;
    }
    case 'config': {
      const { runConfig } = await import('./commands/config.js');
      return runConfig(process.env, url === undefined ? {} : { url });
    }
    case 'set-url':
      if (Boolean(values.clear) === (positionals[0] !== undefined)) {
        throw new UsageError('give either a URL or --clear');
      }
      break;
  }
  return runCoreCommand(command, url, values, positionals[0]);
}

async function runCoreCommand(
  command: 'doctor' | 'import-cli' | 'set-url',
  url: string | undefined,
  values: Record<string, string | boolean | undefined>,
  positional: string | undefined,
): Promise<number> {
  const { configFromEnv, createCore, isNexusError } = await import('./core/index.js');
  const { importShellClientSessions, runDoctor, setDefaultUrl } = await import(
    './commands/index.js'
  );
  const core = createCore({ config: configFromEnv(process.env, url === undefined ? {} : { url }) });
  const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  try {
    if (command === 'doctor') {
      const report = await runDoctor(core.manager);
      print(report);
      return report.ok ? 0 : 1;
    }
    if (command === 'import-cli') {
      const from = typeof values.from === 'string' ? values.from : undefined;
      try {
        print(await importShellClientSessions(core.manager, from));
      } catch (error) {
        if (!isNexusError(error, 'invalid_argument')) throw error;
        // Nothing to import from there: a mistake in how the command was called.
        process.stderr.write(`nexus-messaging-mcp import-cli: ${error.message}\n`);
        return 2;
      }
      return 0;
    }
    print(setDefaultUrl(core.manager, positional));
    return 0;
  } finally {
    await core.close();
  }
}

async function help(topic: string | undefined): Promise<number> {
  if (topic === undefined) {
    process.stdout.write(HELP);
    return 0;
  }
  if (!isCommandName(topic)) throw new UsageError(`no help for "${topic}": it is not a command`);
  if (topic === 'relay') {
    const { runRelayCli } = await import('./relay/cli.js');
    return runRelayCli(['--help']);
  }
  process.stdout.write(commandUsage(topic));
  return 0;
}

/** Runs the CLI and sets the exit code: 0 done, 1 failed, 2 called wrongly. */
export function runCli(argv: string[]): Promise<void> {
  return main(argv).then(
    (code) => {
      // -1: a server runs on; it exits by itself when its host goes away.
      if (code >= 0) process.exitCode = code;
    },
    (error: unknown) => {
      if (error instanceof UsageError) {
        const [first] = argv;
        const usage = first !== undefined && isCommandName(first) ? commandUsage(first) : HELP;
        process.stderr.write(`nexus-messaging-mcp: ${error.message}\n\n${usage}`);
        process.exitCode = 2;
        return;
      }
      process.stderr.write(`nexus-messaging-mcp: ${cliText(error)}\n`);
      process.exitCode = 1;
    },
  );
}

/**
 * An error in a terminal's words: the message, then the hint only where it tells a human
 * something (a bad argument's message already says what is wrong; its hint speaks to models).
 */
function cliText(error: unknown): string {
  const nexus = error as { code?: unknown; message?: unknown; hint?: unknown };
  const message = String(nexus.message ?? error);
  if (typeof nexus.hint !== 'string' || nexus.code === 'invalid_argument') return message;
  return `${message}\n${nexus.hint}`;
}
