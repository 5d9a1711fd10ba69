import { join } from 'node:path';
import { parseArgs } from 'node:util';
import envPaths from 'env-paths';
import { loadRelayOptionsFromEnv } from './env.js';
import { describeStore } from './open-storage.js';
import { RELAY_DEFAULTS, type RelayOptions, resolveRelayOptions } from './options.js';
import { startRelay } from './server.js';

/** Where a relay started from the CLI keeps relay.db when neither --store nor --data-dir is given. */
export function defaultRelayDataDir(): string {
  return join(envPaths('nexus-messaging-mcp', { suffix: '' }).data, 'relay');
}

const USAGE = `Usage: nexus-messaging-mcp relay [options]

Runs a NexusMessaging relay (HTTP server). Flags beat environment variables.

Options:
  --host HOST          interface to listen on (env HOST, default ${RELAY_DEFAULTS.host})
  --port PORT          port, 0 picks a free one (env PORT, default ${RELAY_DEFAULTS.port})
  --store STORE        memory | sqlite:PATH | redis://HOST:PORT[/DB] (env RELAY_STORE;
                       default: sqlite, relay.db in the data dir)
  --data-dir DIR       where relay.db lives (env DATA_DIR; default ${defaultRelayDataDir()})
  --trust-proxy        client address = last X-Forwarded-For hop, for rate limits
                       (env TRUST_PROXY=1; only behind a reverse proxy you run)
  --public-url URL     base URL in pairing links (env PUBLIC_URL; default: http://HOST:PORT)
  --no-long-poll       switch the long-poll extension off (env LONG_POLL=0)
  -h, --help           show this help

Limits (environment only):
  MAX_TTL_SECONDS=${RELAY_DEFAULTS.maxTtlSeconds}  MAX_AGENTS=${RELAY_DEFAULTS.maxAgents}  DEFAULT_MAX_AGENTS=${RELAY_DEFAULTS.defaultMaxAgents}
  AGENT_INACTIVITY_SECONDS=${RELAY_DEFAULTS.agentInactivitySeconds} (0 = never)  PAIR_CODE_TTL_SECONDS=${RELAY_DEFAULTS.pairCodeTtlSeconds}
  RATE_LIMIT_PER_MINUTE=${RELAY_DEFAULTS.rateLimitPerMinute} (0 = off)  MAX_MESSAGE_BYTES=${RELAY_DEFAULTS.maxMessageBytes}
  MAX_MESSAGES_PER_SESSION=${RELAY_DEFAULTS.maxMessagesPerSession}  MAX_SESSIONS_PER_IP=${RELAY_DEFAULTS.maxSessionsPerIp} (0 = no cap)
`;

function optionsFromFlags(argv: readonly string[]): RelayOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      store: { type: 'string' },
      'data-dir': { type: 'string' },
      'trust-proxy': { type: 'boolean' },
      'public-url': { type: 'string' },
      'no-long-poll': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return 'help';
  const flags: RelayOptions = {};
  if (values.host !== undefined) flags.host = values.host;
  if (values.port !== undefined) {
    if (!/^\d{1,5}$/.test(values.port))
      throw new RangeError(`--port must be a number (got "${values.port}")`);
    flags.port = Number(values.port);
  }
  if (values.store !== undefined) flags.store = values.store;
  if (values['data-dir'] !== undefined) flags.dataDir = values['data-dir'];
  if (values['trust-proxy']) flags.trustProxy = true;
  if (values['public-url'] !== undefined) flags.publicUrl = values['public-url'];
  if (values['no-long-poll']) flags.longPoll = false;
  return flags;
}

/**
 * `nexus-messaging-mcp relay …`: starts the relay, announces it with one stderr line, and
 * shuts down gracefully on SIGINT/SIGTERM. Resolves with the process exit code.
 */
export async function runRelayCli(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  let options: RelayOptions;
  try {
    const flags = optionsFromFlags(argv);
    if (flags === 'help') {
      process.stdout.write(USAGE);
      return 0;
    }
    options = { ...loadRelayOptionsFromEnv(env), ...flags };
    // Durable by default: a relay someone starts by hand keeps its sessions across restarts.
    if (options.store === undefined && options.dataDir === undefined) {
      options.dataDir = defaultRelayDataDir();
    }
    resolveRelayOptions(options);
  } catch (error) {
    process.stderr.write(`nexus relay: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }

  let relay: Awaited<ReturnType<typeof startRelay>>;
  try {
    relay = await startRelay(options);
  } catch (error) {
    // One line: a refused store names the file or address and what to do.
    process.stderr.write(`nexus relay: could not start: ${(error as Error).message}\n`);
    return 1;
  }
  process.stderr.write(
    `nexus relay listening on ${relay.url} (store: ${describeStore(resolveRelayOptions(options))})\n`,
  );

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (): void => {
      if (stopping) {
        // A second signal: the human wants out now.
        process.exit(1);
      }
      stopping = true;
      relay.close().then(
        () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve(0);
        },
        (error: unknown) => {
          process.stderr.write(`nexus relay: shutdown failed: ${(error as Error).message}\n`);
          resolve(1);
        },
      );
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
