/**
 * Tool registration with the project's rules built in: every tool declares a title, described
 * input and output schemas and all four annotations, and every failure comes back as an
 * `isError` result with the protocol's code instead of a thrown error.
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type {
  ShapeOutput,
  ZodRawShapeCompat,
} from '@modelcontextprotocol/sdk/server/zod-compat.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type {
  CallToolResult,
  ServerNotification,
  ServerRequest,
} from '@modelcontextprotocol/sdk/types.js';
import { type Logger, toNexusError } from '../core/index.js';
import { errorResult } from './render.js';

export type ToolExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

export interface ToolAnnotationsStrict {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: boolean;
}

export interface ToolDefinition<I extends ZodRawShapeCompat, O extends ZodRawShapeCompat> {
  title: string;
  description: string;
  inputSchema: I;
  outputSchema: O;
  annotations: ToolAnnotationsStrict;
}

/** The annotation sets the tools use, named for what a call does. */
export const ANNOTATIONS = {
  /** Asks the relay; changes nothing. */
  query: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  /** Reads messages: moves only this agent's own read position. */
  read: { readOnlyHint: true, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  /** Makes something new on the relay at every call. */
  create: {
    readOnlyHint: false,
    destructiveHint: false,
    idempotentHint: false,
    openWorldHint: true,
  },
  /** Changes state on the relay; repeating it changes nothing more. */
  update: {
    readOnlyHint: false,
    destructiveHint: false,
    idempotentHint: true,
    openWorldHint: true,
  },
  /** Ends this agent's part in something. */
  remove: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  /** Touches only the local store. */
  local: {
    readOnlyHint: false,
    destructiveHint: false,
    idempotentHint: true,
    openWorldHint: false,
  },
} as const satisfies Record<string, ToolAnnotationsStrict>;

/** Where tools are registered, and where notable failures are reported. */
export interface ToolTarget {
  server: McpServer;
  logger: Logger;
}

/** Failures a human watching the logs should hear about, not only the model. */
const NOTABLE = new Set([
  'rate_limit_exceeded',
  'network_error',
  'timeout',
  'non_json_response',
  'internal_error',
  'store_error',
]);

export function defineTool<I extends ZodRawShapeCompat, O extends ZodRawShapeCompat>(
  { server, logger }: ToolTarget,
  name: string,
  definition: ToolDefinition<I, O>,
  handler: (args: ShapeOutput<I>, extra: ToolExtra) => Promise<CallToolResult>,
): void {
  const { title, description, inputSchema, outputSchema, annotations } = definition;
  server.registerTool<O, I>(
    name,
    { title, description, inputSchema, outputSchema, annotations: { title, ...annotations } },
    (async (args: ShapeOutput<I>, extra: ToolExtra) => {
      try {
        return await handler(args, extra);
      } catch (error) {
        const nexus = toNexusError(error);
        const request = nexus.requestId === undefined ? undefined : { requestId: nexus.requestId };
        if (NOTABLE.has(nexus.code))
          logger.warn(`${name} failed: ${nexus.code}: ${nexus.message}`, request);
        else if (request) logger.debug(`${name} failed: ${nexus.code}`, request);
        return errorResult(nexus);
      }
    }) as Parameters<typeof server.registerTool<O, I>>[2],
  );
}
