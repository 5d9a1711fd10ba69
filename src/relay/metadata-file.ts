import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { chmod, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { PairCodeRecord, SessionRecord } from './storage.js';

export interface Metadata {
  sessions: SessionRecord[];
  pairCodes: PairCodeRecord[];
}

interface MetadataFileBody extends Metadata {
  version: 1;
  savedAt: string;
}

const FILE_NAME = 'sessions.json';

const StoredAgent = z.object({
  agentId: z.string(),
  sessionKey: z.string(),
  joinedAt: z.number(),
  lastSeenAt: z.number(),
});
const StoredSession = z.object({
  sessionId: z.string(),
  ttlSeconds: z.number(),
  maxAgents: z.number(),
  greeting: z.string().optional(),
  creatorAgentId: z.string().optional(),
  createdAt: z.number(),
  expiresAt: z.number(),
  lastCursor: z.number(),
  agents: z.array(StoredAgent),
});
const StoredPairCode = z.object({
  code: z.string(),
  sessionId: z.string(),
  createdAt: z.number(),
  expiresAt: z.number(),
  claimedAt: z.number().optional(),
});
/** Checked on load: the file may have been edited by hand or written by another version. */
const StoredMetadata = z.object({
  version: z.literal(1),
  sessions: z.array(StoredSession),
  pairCodes: z.array(StoredPairCode).default([]),
});
/** Coalesces the bursts of changes every send and poll make into one write. */
const DEBOUNCE_MS = 250;

/**
 * Session metadata on disk: sessions.json in the data dir, written whole to a temporary file
 * (mode 0600) and renamed over the old one, so a crash leaves either the old or the new file.
 * Holds keys, hence the modes: the dir is created 0700.
 */
export class MetadataFile {
  readonly path: string;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    readonly dir: string,
    private readonly snapshot: () => Metadata,
    private readonly log: (line: string) => void,
  ) {
    this.path = join(dir, FILE_NAME);
  }

  /** Reads the file, or nothing when there is none; an unreadable file is logged and skipped. */
  load(): Metadata {
    if (!existsSync(this.dir)) mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    let raw: string;
    try {
      raw = readFileSync(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT')
        return { sessions: [], pairCodes: [] };
      throw error;
    }
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      // Not the parser's message: it quotes the file, which holds session ids and keys.
      this.log(`nexus relay: ignoring ${this.path}: not valid JSON`);
      return { sessions: [], pairCodes: [] };
    }
    const parsed = StoredMetadata.safeParse(json);
    if (!parsed.success) {
      this.log(`nexus relay: ignoring ${this.path}: not a version 1 metadata file`);
      return { sessions: [], pairCodes: [] };
    }
    return { sessions: parsed.data.sessions, pairCodes: parsed.data.pairCodes };
  }

  /** Schedules a write of the current snapshot. */
  markDirty(): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.save();
    }, DEBOUNCE_MS);
    // Shutdown flushes explicitly; a pending write must not keep the process alive.
    this.timer.unref();
  }

  /** Writes now (after any write under way). */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    await this.save();
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
  }

  private save(): Promise<void> {
    this.writing = this.writing.then(
      () => this.write(),
      () => this.write(),
    );
    return this.writing.catch((error: unknown) => {
      this.log(`nexus relay: could not save session metadata: ${(error as Error).message}`);
    });
  }

  private async write(): Promise<void> {
    const body: MetadataFileBody = {
      version: 1,
      savedAt: new Date().toISOString(),
      ...this.snapshot(),
    };
    const tmp = `${this.path}.${process.pid}.tmp`;
    const handle = await open(tmp, 'w', 0o600);
    try {
      await handle.writeFile(JSON.stringify(body));
      await handle.sync();
    } finally {
      await handle.close();
    }
    // open() honours the umask only on creation; a leftover tmp may have kept other bits.
    await chmod(tmp, 0o600);
    try {
      await rename(tmp, this.path);
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
  }
}
