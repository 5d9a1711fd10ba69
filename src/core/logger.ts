/**
 * Where the core reports notable events. The MCP layer forwards them to stderr and to MCP
 * logging notifications; stdout is never used. Callers pass short ids only: a log line must
 * never carry a session key or a full session id.
 */
export type LogLevel = 'debug' | 'info' | 'notice' | 'warning' | 'error';

export interface Logger {
  log(level: LogLevel, message: string, data?: Record<string, unknown>): void;
  debug(message: string, data?: Record<string, unknown>): void;
  info(message: string, data?: Record<string, unknown>): void;
  warn(message: string, data?: Record<string, unknown>): void;
  error(message: string, data?: Record<string, unknown>): void;
}

export type LogSink = (level: LogLevel, message: string, data?: Record<string, unknown>) => void;

export function createLogger(sink: LogSink): Logger {
  return {
    log: sink,
    debug: (message, data) => sink('debug', message, data),
    info: (message, data) => sink('info', message, data),
    warn: (message, data) => sink('warning', message, data),
    error: (message, data) => sink('error', message, data),
  };
}

const LEVELS: Record<LogLevel, number> = { debug: 0, info: 1, notice: 2, warning: 3, error: 4 };

/** One line per event on stderr, from `minLevel` up. */
export function stderrSink(minLevel: LogLevel = 'info'): LogSink {
  return (level, message, data) => {
    if (LEVELS[level] < LEVELS[minLevel]) return;
    const suffix = data && Object.keys(data).length ? ` ${JSON.stringify(data)}` : '';
    process.stderr.write(`[nexus] ${level}: ${message}${suffix}\n`);
  };
}

export const silentLogger: Logger = createLogger(() => undefined);
