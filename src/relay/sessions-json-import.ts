import { readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { SqliteStorage } from './sqlite-storage.js';
import type { PairCodeRecord, SessionRecord } from './storage.js';

/**
 * Relays before the SQLite store kept session metadata (no messages) in `sessions.json` in the
 * data dir. Its format, version 1, as that relay wrote it.
 */
const LegacyAgent = z.object({
  agentId: z.string().min(1),
  sessionKey: z.string().min(1),
  joinedAt: z.number(),
  lastSeenAt: z.number(),
});
const LegacySession = z.object({
  sessionId: z.string().min(1),
  ttlSeconds: z.number().int().positive(),
  maxAgents: z.number().int().positive(),
  greeting: z.string().optional(),
  creatorAgentId: z.string().optional(),
  createdAt: z.number(),
  expiresAt: z.number(),
  lastCursor: z.number().int().nonnegative(),
  agents: z.array(LegacyAgent),
});
const LegacyPairCode = z.object({
  code: z.string().min(1),
  sessionId: z.string().min(1),
  createdAt: z.number(),
  expiresAt: z.number(),
  claimedAt: z.number().optional(),
});
const LegacyMetadata = z.object({
  version: z.literal(1),
  sessions: z.array(LegacySession),
  pairCodes: z.array(LegacyPairCode).default([]),
});

export const LEGACY_METADATA_FILE = 'sessions.json';

type Parsed = { sessions: SessionRecord[]; pairCodes: PairCodeRecord[] } | { problem: string };

function parseLegacyFile(path: string): Parsed | undefined {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    return { problem: `it cannot be read (${code ?? 'unknown error'})` };
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    // Not the parser's message: it quotes the file, which holds session ids and keys.
    return { problem: 'it is not valid JSON' };
  }
  const parsed = LegacyMetadata.safeParse(json);
  // Not zod's issues either: they can quote values, keys among them.
  if (!parsed.success) return { problem: 'it is not a version 1 sessions file' };
  const sessionIds = new Set<string>();
  for (const session of parsed.data.sessions) {
    const agentIds = new Set(session.agents.map((agent) => agent.agentId));
    if (sessionIds.has(session.sessionId) || agentIds.size !== session.agents.length) {
      return { problem: 'it lists a session or a member twice' };
    }
    sessionIds.add(session.sessionId);
  }
  if (new Set(parsed.data.pairCodes.map((code) => code.code)).size !== parsed.data.pairCodes.length)
    return { problem: 'it lists a pairing code twice' };
  return parsed.data;
}

/** `sessions.json.imported-2026-11-29T17-05-03-123Z`: sortable, and no `:` for Windows. */
function importedName(path: string, now: number): string {
  return `${path}.imported-${new Date(now).toISOString().replace(/[:.]/g, '-')}`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/**
 * Moves the live sessions (members, keys, last cursor, greeting, creator) and pairing codes of
 * an old relay's `sessions.json` in `dataDir` into a store that holds no session yet, then
 * renames the file `sessions.json.imported-<time>` so it is read once. Logs one line whenever
 * there is a file. Never throws: a file it cannot use is left as it was and the relay starts on
 * its store regardless (the old file is not the store).
 */
export function importSessionsJson(
  storage: SqliteStorage,
  dataDir: string,
  now: number,
  log: (line: string) => void,
): void {
  const path = join(dataDir, LEGACY_METADATA_FILE);
  const parsed = parseLegacyFile(path);
  if (parsed === undefined) return;
  const untouched = `it was left untouched and nothing was imported: fix or remove it to stop this line`;
  if ('problem' in parsed) {
    log(`nexus relay: ignoring ${path} from an older relay: ${parsed.problem}; ${untouched}`);
    return;
  }
  if (storage.holdsSessions()) {
    log(
      `nexus relay: not importing ${path} from an older relay: the store already holds sessions; ${untouched}`,
    );
    return;
  }
  const sessions = parsed.sessions.filter((session) => session.expiresAt > now);
  const live = new Set(sessions.map((session) => session.sessionId));
  const pairCodes = parsed.pairCodes.filter(
    (code) => code.expiresAt > now && live.has(code.sessionId),
  );
  try {
    storage.importRecords(sessions, pairCodes);
  } catch (error) {
    // SQLite's message names a column, never a value.
    log(
      `nexus relay: could not import ${path} from an older relay (${(error as Error).message}); ${untouched}`,
    );
    return;
  }
  const expired = parsed.sessions.length - sessions.length;
  const counted = `${plural(sessions.length, 'session')} and ${plural(pairCodes.length, 'pairing code')}${expired > 0 ? ` (${expired} expired left out)` : ''}`;
  const renamed = importedName(path, now);
  try {
    renameSync(path, renamed);
  } catch (error) {
    log(
      `nexus relay: imported ${counted} from ${path} but could not rename it (${(error as NodeJS.ErrnoException).code ?? 'unknown error'}); it will not be imported again: remove it`,
    );
    return;
  }
  log(`nexus relay: imported ${counted} from ${path} (renamed to ${renamed})`);
}
