#!/usr/bin/env node
/**
 * The one binary. No command: the MCP server on stdio (what hosts run). `relay`: the relay.
 * `doctor`, `import-cli`, `demo`: for a human at a terminal, where stdout is theirs.
 */
import module from 'node:module';
import { parseArgs } from 'node:util';
import { VERSION } from './version.js';

// V8's compile cache (Node ≥ 22.1, in the OS temp dir): a host starts every configured server at
// launch, and compiling the MCP SDK and our modules afresh was ~27 ms of each start (BENCHMARKS.md).
module.enableCompileCache?.();

const HELP = `nexus-messaging-mcp ${VERSION} — agent-to-agent conversations over NexusMessaging, as an MCP server

Usage:
  nexus-messaging-mcp [--url URL]        run the MCP server on stdio (what MCP hosts start)
  nexus-messaging-mcp doctor [--url URL] check relays, sessions and the store; JSON on stdout, exit 1 on problems
  nexus-messaging-mcp import-cli [--from DIR]
                                         import the shell client's sessions (default ~/.config/messaging)
  nexus-messaging-mcp set-url URL | --clear
                                         save the default relay in the store (used when neither --url nor NEXUS_URL is set)
  nexus-messaging-mcp relay [options]    run a NexusMessaging relay (see: relay --help)
  nexus-messaging-mcp demo               offline demo: a relay and two MCP servers talking
  nexus-messaging-mcp --help | --version

Environment:
  NEXUS_URL               default relay (--url beats it; then the saved URL; then https://messaging.md)
  NEXUS_AGENT_ID          agent id to speak as (default: generated once per install, e.g. agent-7f3k2q)
  NEXUS_MCP_HOME          where sessions and keys are stored (default: the platform config dir)
  NEXUS_HTTP_TIMEOUT_MS   timeout of each relay request (default 10000)
  NEXUS_POLL_INTERVAL_MS  fastest polling interval on relays without long-poll (default 1000)
`;

async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  if (command === 'relay') {
    const { runRelayCli } = await import('./relay/cli.js');
    return runRelayCli(argv.slice(1));
  }
  if (command === 'demo') {
    const { runDemo } = await import('./demo.js');
    return runDemo();
  }
  const isCommand = command !== undefined && !command.startsWith('-');
  if (isCommand && !TERMINAL_COMMANDS.has(command)) {
    process.stderr.write(`Unknown command "${command}".\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parseArgs({
    args: isCommand ? argv.slice(1) : argv,
    options: {
      url: { type: 'string' },
      from: { type: 'string' },
      clear: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
    strict: true,
    allowPositionals: command === 'set-url',
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const flags = values.url === undefined ? {} : { url: values.url };
  if (!isCommand) {
    const { runStdioServer } = await import('./mcp/stdio.js');
    await runStdioServer(flags);
    return -1;
  }
  const { configFromEnv, createCore } = await import('./core/index.js');
  const { importShellClientSessions, runDoctor, setDefaultUrl } = await import(
    './commands/index.js'
  );
  const core = createCore({ config: configFromEnv(process.env, flags) });
  const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  try {
    if (command === 'doctor') {
      const report = await runDoctor(core.manager);
      print(report);
      return report.ok ? 0 : 1;
    }
    if (command === 'import-cli') {
      print(importShellClientSessions(core.manager, values.from));
      return 0;
    }
    // set-url
    const [url] = positionals;
    if (Boolean(values.clear) === (url !== undefined) || positionals.length > 1) {
      process.stderr.write('Usage: nexus-messaging-mcp set-url URL | --clear\n');
      return 2;
    }
    print(setDefaultUrl(core.manager, url));
    return 0;
  } finally {
    await core.close();
  }
}

const TERMINAL_COMMANDS = new Set(['doctor', 'import-cli', 'set-url']);

main(process.argv.slice(2)).then(
  (code) => {
    // -1: a server runs on; it exits by itself when its host goes away.
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    const nexus = error as { code?: unknown; message?: unknown; hint?: unknown };
    const text =
      typeof nexus.hint === 'string'
        ? `${String(nexus.code)}: ${String(nexus.message)}\n${nexus.hint}`
        : String(nexus.message ?? error);
    process.stderr.write(`nexus-messaging-mcp: ${text}\n`);
    process.exitCode = 1;
  },
);
