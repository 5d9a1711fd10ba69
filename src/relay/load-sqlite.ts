/**
 * Loads `node:sqlite` only when a SQLite store is asked for. Node 22.13–22.x prints an
 * ExperimentalWarning for it on stderr; that line would land in the relay's CLI output (and, in
 * the MCP server, on stderr beside the host's logs) for a module that works as documented, so
 * this one warning is dropped while the module loads. Other warnings pass through.
 */
export async function loadSqlite(): Promise<typeof import('node:sqlite')> {
  const emitWarning = process.emitWarning;
  process.emitWarning = function filtered(this: NodeJS.Process, ...args: unknown[]) {
    const [warning] = args;
    const text = typeof warning === 'string' ? warning : (warning as Error | undefined)?.message;
    if (typeof text === 'string' && text.includes('SQLite')) return;
    (emitWarning as (...a: unknown[]) => void).apply(this, args);
  } as typeof process.emitWarning;
  try {
    return await import('node:sqlite');
  } finally {
    process.emitWarning = emitWarning;
  }
}
