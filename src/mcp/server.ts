/**
 * The MCP server, assembled from the core: tools, resources, prompts and logging. Every
 * capability is declared in the constructor, as the SDK only advertises what is declared there.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { Core } from '../core/index.js';
import { VERSION } from '../version.js';
import { DeliveryLedger } from './deliveries.js';
import { INSTRUCTIONS } from './instructions.js';
import type { LogBridge } from './logging.js';
import { registerPrompts } from './prompts.js';
import { registerResources } from './resources.js';
import { registerMessageTools } from './tools/messages.js';
import { registerPairingTools } from './tools/pairing.js';
import { registerSessionTools } from './tools/sessions.js';

export interface ServerOptions {
  logBridge?: LogBridge;
  progressIntervalMs?: number;
}

export interface NexusMcpServer {
  server: McpServer;
  /** Connects the server, watching the transport for late cancellations (see deliveries.ts). */
  connect(transport: Transport): Promise<void>;
  /** Detaches from the core's events; the caller closes the transport and the core. */
  dispose(): void;
}

export function createServer(core: Core, options: ServerOptions = {}): NexusMcpServer {
  const server = new McpServer(
    { name: 'nexus-messaging-mcp', title: 'NexusMessaging', version: VERSION },
    {
      capabilities: {
        tools: {},
        resources: { subscribe: true, listChanged: true },
        prompts: {},
        logging: {},
        completions: {},
      },
      instructions: INSTRUCTIONS,
    },
  );
  registerSessionTools(server, core);
  registerPairingTools(server, core);
  const ledger = new DeliveryLedger((deliveries) => core.manager.inbox.giveBack(deliveries));
  registerMessageTools(server, core, ledger, {
    ...(options.progressIntervalMs !== undefined && {
      progressIntervalMs: options.progressIntervalMs,
    }),
  });
  const disposeResources = registerResources(server, core);
  registerPrompts(server);
  options.logBridge?.attach(server);
  return {
    server,
    async connect(transport) {
      await server.connect(transport);
      ledger.watch(transport);
    },
    dispose() {
      disposeResources();
      options.logBridge?.detach();
    },
  };
}
