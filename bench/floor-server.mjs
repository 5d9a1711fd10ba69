// The floor of any MCP stdio server doing this job: the same SDK (McpServer over stdio), tools
// with zod input schemas, and a handler that makes exactly one HTTP request to the relay (undici,
// keep-alive, loaded on first use as ours is) and returns its answer. No store, no validation of
// the answer, no output schema. Plain JavaScript so its cold start is node's, not a type stripper's.
// Credentials come from the environment: FLOOR_URL, FLOOR_SESSION, FLOOR_AGENT, FLOOR_KEY.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { registerFloorTools } from './floor-tools.mjs';

const { FLOOR_URL, FLOOR_SESSION, FLOOR_AGENT, FLOOR_KEY } = process.env;
let agent;

async function request(method, path, body) {
  agent ??= import('undici').then(({ Agent }) => new Agent({ keepAliveTimeout: 30_000 }));
  const response = await (await agent).request({
    origin: FLOOR_URL,
    method,
    path,
    headers: {
      'x-agent-id': FLOOR_AGENT,
      'x-session-key': FLOOR_KEY,
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return response.body.json();
}

const server = new McpServer({ name: 'floor', version: '1.0.0' }, { capabilities: { tools: {} } });
registerFloorTools(server, FLOOR_SESSION, request);
await server.connect(new StdioServerTransport());
process.stdin.on('end', () => process.exit(0));
