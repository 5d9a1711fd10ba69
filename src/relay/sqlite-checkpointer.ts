import { Worker } from 'node:worker_threads';

/**
 * Runs the WAL checkpoints of one SQLite file on a worker thread with its own connection.
 * SQLite's automatic checkpoint runs inside whichever commit crosses the threshold, and its
 * fsync then stalls the relay's event loop for tens of milliseconds (measured: 60 % of the time
 * of a send loop on a shared virtual disk). Here the main connection never checkpoints and
 * never fsyncs; this thread copies the WAL back every second, concurrently with writers.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const emitWarning = process.emitWarning;
process.emitWarning = function (warning, ...rest) {
  const text = typeof warning === 'string' ? warning : warning && warning.message;
  if (typeof text === 'string' && text.includes('SQLite')) return;
  return emitWarning.call(process, warning, ...rest);
};
const { DatabaseSync } = require('node:sqlite');
process.emitWarning = emitWarning;
const db = new DatabaseSync(workerData.path);
db.exec('PRAGMA busy_timeout = 5000');
const checkpoint = (mode) => {
  try {
    db.exec('PRAGMA wal_checkpoint(' + mode + ')');
  } catch (error) {
    parentPort.postMessage(String(error && error.message));
  }
};
const timer = setInterval(() => checkpoint('PASSIVE'), workerData.everyMs);
parentPort.on('message', () => {
  clearInterval(timer);
  checkpoint('TRUNCATE');
  db.close();
  parentPort.close();
});
`;

export class SqliteCheckpointer {
  private readonly worker: Worker;
  private readonly exited: Promise<void>;

  constructor(path: string, log: (line: string) => void, everyMs = 1_000) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path, everyMs } });
    this.worker.on('message', (message: string) => {
      log(`nexus relay: sqlite checkpoint failed: ${message}`);
    });
    this.worker.on('error', (error: Error) =>
      log(`nexus relay: sqlite checkpointer: ${error.message}`),
    );
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
    // After the listeners: adding a 'message' listener refs the worker again.
    this.worker.unref();
  }

  /** A last checkpoint (the WAL folded into the file), then the thread ends. */
  async close(): Promise<void> {
    this.worker.postMessage('close');
    await this.exited;
  }
}
