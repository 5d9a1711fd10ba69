import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';

export function registerFloorTools(
  server: McpServer,
  sessionId: string,
  request: (
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
  ) => Promise<Record<string, unknown>>,
): void;
