/**
 * The MCP server on stdio, as hosts run it. It exits cleanly when its host goes away: the SDK's
 * stdio transport does not notice stdin closing, so we do, and then abort waits, close HTTP
 * connections and leave.
 */
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { configFromEnv, createCore } from '../core/index.js';
import { LogBridge } from './logging.js';
import { createServer } from './server.js';

/** Time given to in-flight answers and connections after shutdown starts, before a forced exit. */
const SHUTDOWN_GRACE_MS = 3_000;

export async function runStdioServer(
  flags: { url?: string },
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  const bridge = new LogBridge();
  const config = configFromEnv(env, flags);
  const core = createCore({ config, logger: bridge.logger });
  const { server, connect, dispose } = createServer(core, { logBridge: bridge });
  const transport = new StdioServerTransport();

  // A host that vanished leaves a broken pipe: that is a reason to stop, not to crash.
  process.stdout.on('error', () => void shutdown('stdout closed'));

  let stopping: Promise<void> | undefined;
  const shutdown = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      bridge.logger.debug(`Shutting down: ${reason}.`);
      setTimeout(() => process.exit(0), SHUTDOWN_GRACE_MS).unref();
      // Waits end first (rejecting as cancelled) so their answers can still go out.
      await core.watcher.close();
      await new Promise((resolve) => setImmediate(resolve));
      dispose();
      await server.close().catch(() => undefined);
      await core.client.close();
    })();
    return stopping;
  };

  process.stdin.on('end', () => void shutdown('stdin ended'));
  process.stdin.on('close', () => void shutdown('stdin closed'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));

  await connect(transport);
  bridge.logger.debug(`nexus-messaging-mcp ready; default relay ${core.manager.defaultServer()}.`);
}
