// The floor server's two tools (see floor-server.mjs), shared with the in-process loop
// (in-process.ts): `request(method, path, body)` makes the one HTTP request and returns its JSON.
import { z } from 'zod';

export function registerFloorTools(server, sessionId, request) {
  let cursor = '0';
  server.registerTool(
    'send_message',
    { description: 'Send', inputSchema: { session: z.string(), text: z.string().optional() } },
    async ({ text }) => {
      const sent = await request('POST', `/v1/sessions/${sessionId}/messages`, { text });
      return {
        content: [{ type: 'text', text: `Sent (cursor ${sent.cursor}).` }],
        structuredContent: sent,
      };
    },
  );
  server.registerTool(
    'poll_messages',
    { description: 'Poll', inputSchema: { session: z.string().optional() } },
    async () => {
      const polled = await request('GET', `/v1/sessions/${sessionId}/messages?after=${cursor}`);
      cursor = polled.nextCursor ?? cursor;
      return {
        content: [{ type: 'text', text: JSON.stringify(polled.messages) }],
        structuredContent: polled,
      };
    },
  );
}
