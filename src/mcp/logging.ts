/**
 * Routes the core's log events to stderr and, once a server is connected, to MCP
 * `notifications/message`. stdout is never written: it carries JSON-RPC only.
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  createLogger,
  type Logger,
  type LogLevel,
  type LogSink,
  stderrSink,
} from '../core/index.js';
import { cleanJson, errorLine } from './render.js';

export class LogBridge {
  readonly logger: Logger;
  private server: McpServer | undefined;
  private readonly stderr: LogSink;

  constructor(options: { stderr?: LogSink } = {}) {
    this.stderr = options.stderr ?? stderrSink('info');
    this.logger = createLogger((level, message, data) => this.emit(level, message, data));
  }

  attach(server: McpServer): void {
    this.server = server;
  }

  detach(): void {
    this.server = undefined;
  }

  private emit(level: LogLevel, raw: string, rawData?: Record<string, unknown>): void {
    // Log lines can carry relay-written text: one escaped, bounded line, for terminals too.
    const message = errorLine(raw);
    const data = rawData && (cleanJson(rawData) as Record<string, unknown>);
    this.stderr(level, message, data);
    const server = this.server;
    if (!server?.isConnected() || level === 'debug') return;
    server
      .sendLoggingMessage({ level, logger: 'nexus', data: data ? { message, ...data } : message })
      .catch(() => undefined);
  }
}
