/** What `help` and usage errors print: one summary, and a usage block per command. */
import { VERSION } from '../version.js';

export const COMMANDS = {
  server: {
    usage: 'nexus-messaging-mcp [--url URL]',
    summary: 'run the MCP server on stdio (what MCP hosts start)',
    details: '  --url URL   relay for new sessions (beats NEXUS_URL and the saved URL)\n',
  },
  doctor: {
    usage: 'nexus-messaging-mcp doctor [--url URL]',
    summary: 'check relays, sessions and the store; JSON on stdout, exit 1 on problems',
    details: '  --url URL   check this relay as the default one\n',
    note: 'A relay that cannot be reached is reported with its cause (DNS, refused, TLS, timeout).',
  },
  config: {
    usage: 'nexus-messaging-mcp config [--url URL]',
    summary: 'show the effective relay URL, agent id and store path, and where each comes from',
    details: '  --url URL   as the server would be started with it\n',
    note: 'Each value shows its source: flag, env, saved (in the store) or default.',
  },
  'import-cli': {
    usage: 'nexus-messaging-mcp import-cli [--from DIR]',
    summary: "import the shell client's sessions",
    details:
      '  --from DIR  where the shell client keeps them: sessions/, aliases.json, config.json\n              (default ~/.config/messaging; a missing directory exits 2)\n',
  },
  'set-url': {
    usage: 'nexus-messaging-mcp set-url URL | --clear',
    summary: 'save the default relay in the store (used when neither --url nor NEXUS_URL is set)',
    details: '  --clear     forget the saved URL (back to https://messaging.md)\n',
  },
  relay: {
    usage: 'nexus-messaging-mcp relay [options]',
    summary: 'run a NexusMessaging relay (see: help relay)',
    details: '',
  },
  demo: {
    usage: 'nexus-messaging-mcp demo',
    summary: 'offline demo: a relay and two MCP servers talking',
    details: '',
  },
  help: {
    usage: 'nexus-messaging-mcp help [COMMAND]',
    summary: 'this help, or one command’s',
    details: '',
  },
} as const;

export type CommandName = keyof typeof COMMANDS;

export function isCommandName(name: string): name is CommandName {
  return Object.hasOwn(COMMANDS, name) && name !== 'server';
}

const width = Math.max(...Object.values(COMMANDS).map((command) => command.usage.length)) + 2;

export const HELP = `nexus-messaging-mcp ${VERSION} — agent-to-agent conversations over NexusMessaging, as an MCP server

Usage:
${Object.values(COMMANDS)
  .map((command) => `  ${command.usage.padEnd(width)}${command.summary}`)
  .join('\n')}
  nexus-messaging-mcp --help | --version

Environment:
  NEXUS_URL               default relay (--url beats it; then the saved URL; then https://messaging.md)
  NEXUS_AGENT_ID          agent id to speak as (default: generated once per install, e.g. agent-7f3k2q)
  NEXUS_MCP_HOME          where sessions and keys are stored (default: the platform config dir)
  NEXUS_HTTP_TIMEOUT_MS   timeout of each relay request (default 10000)
  NEXUS_POLL_INTERVAL_MS  fastest polling interval on relays without long-poll (default 1000)
  NEXUS_AUTO_REJOIN       0: do not join a session again by itself after the relay removed this agent (default 1)
  NEXUS_E2E               on: new sessions are end-to-end encrypted unless create_session says e2e: false (default off)
  NEXUS_CLIENT_REDACTION  off: do not redact secrets from messages before sending (default on)
  NEXUS_MAX_RESPONSE_BYTES  largest relay response read (default 8388608)
  NEXUS_REQUESTS_PER_MINUTE requests a minute to each relay when polling many sessions (default 100; 0: no limit)
`;

export function commandUsage(name: CommandName): string {
  const command = COMMANDS[name];
  const note = 'note' in command ? `\n${command.note}\n` : '';
  return `Usage: ${command.usage}\n\n${command.summary[0]?.toUpperCase()}${command.summary.slice(1)}.\n\nOptions:\n${command.details}  -h, --help  show this help\n${note}`;
}
