/**
 * Import of the reference shell client's sessions: `<dir>/sessions/<id>/{agent,key,cursor,server}`,
 * `<dir>/aliases.json` and `<dir>/config.json` (its `serverUrl`: the relay of every session
 * without a `server` file, and this store's saved default when it has none). Copies what our
 * store lacks, never overwrites a session we have, keeps the creator role (a `role` file, else
 * the relay's word), and says per session what it did and why.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { clientError, mapLimit, type SessionManager, validateAlias } from '../core/index.js';
import {
  isAgentId,
  isCursor,
  isSessionId,
  normalizeServerUrl,
  parseJsonText,
} from '../protocol/index.js';

function defaultShellClientDir(): string {
  return join(homedir(), '.config', 'messaging');
}

export interface ImportReport {
  source: string;
  /** What the shell client's config.json contributed. */
  config: {
    serverUrl?: string;
    /** The serverUrl was saved as this store's default relay (it had none). */
    savedAsDefault?: boolean;
    /** Settings of config.json this import has no use for (this server keeps its own). */
    ignored?: string[];
    problem?: string;
  };
  imported: {
    sessionId: string;
    alias?: string;
    server: string;
    /** Where the relay came from: the session's `server` file, config.json, or our default. */
    serverFrom: 'server file' | 'config.json' | 'default';
    agentId: string;
    role: 'creator' | 'member';
    cursor: string;
    notes?: string[];
  }[];
  skipped: { sessionId: string; reason: string }[];
}

/**
 * Imports every session the store lacks. A directory that does not exist, or holds no
 * `sessions` directory, is an error (`invalid_argument`): nothing was there to import.
 */
export async function importShellClientSessions(
  manager: SessionManager,
  dir = defaultShellClientDir(),
): Promise<ImportReport> {
  const sessionsDir = join(dir, 'sessions');
  if (!isDirectory(dir)) {
    throw clientError(
      'invalid_argument',
      `No shell client directory at ${dir}: pass --from DIR with the directory that holds sessions/ (default ~/.config/messaging).`,
    );
  }
  if (!isDirectory(sessionsDir)) {
    throw clientError(
      'invalid_argument',
      `${dir} holds no sessions/ directory: is it the shell client's directory?`,
    );
  }
  const config = readConfig(join(dir, 'config.json'));
  const report: ImportReport = { source: dir, config: config.report, imported: [], skipped: [] };
  if (config.serverUrl !== undefined && manager.registry.savedServer() === undefined) {
    manager.registry.setSavedServer(config.serverUrl);
    report.config.savedAsDefault = true;
  }
  const aliases = readAliases(join(dir, 'aliases.json'));
  const now = new Date().toISOString();

  const candidates: Candidate[] = [];
  for (const entry of readdirSync(sessionsDir, { withFileTypes: true }).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    if (!entry.isDirectory()) continue;
    const sessionId = entry.name;
    const skip = (reason: string) => report.skipped.push({ sessionId, reason });
    if (!isSessionId(sessionId)) {
      skip('not a session id');
      continue;
    }
    if (manager.registry.get(sessionId)) {
      skip('already in the store (never overwritten)');
      continue;
    }
    const read = (name: string) => readText(join(sessionsDir, sessionId, name));
    const agentId = read('agent');
    const sessionKey = read('key');
    if (!agentId || !sessionKey) {
      skip(`no ${agentId ? 'key' : 'agent'} file: without it the session cannot be used`);
      continue;
    }
    if (!isAgentId(agentId)) {
      skip('the agent file holds no valid agent id (letters, digits, - and _)');
      continue;
    }
    const serverText = read('server');
    let server: string;
    let serverFrom: Candidate['serverFrom'];
    try {
      if (serverText !== undefined) {
        server = normalizeServerUrl(serverText);
        serverFrom = 'server file';
      } else if (config.serverUrl !== undefined) {
        server = config.serverUrl;
        serverFrom = 'config.json';
      } else {
        server = manager.defaultServer();
        serverFrom = 'default';
      }
    } catch {
      skip('the server file holds no http(s) URL');
      continue;
    }
    const notes: string[] = [];
    const cursorText = read('cursor');
    const cursor = cursorText && isCursor(cursorText) ? cursorText : '0';
    if (cursorText !== undefined && cursor !== cursorText)
      notes.push('the cursor file held no cursor: reading starts from the beginning');
    const role = read('role');
    candidates.push({
      sessionId,
      agentId,
      sessionKey,
      server,
      serverFrom,
      cursor,
      notes,
      ...(role === 'creator' || role === 'member' ? { role } : {}),
    });
  }

  // The shell client keeps no role: the relay says who created the session.
  const roles = await mapLimit(candidates, 8, async (candidate) => {
    if (candidate.role) return candidate.role;
    const creator = await manager.creatorOf(candidate).catch(() => undefined);
    if (creator === undefined)
      candidate.notes.push(
        'the relay could not be asked who created the session: stored as member',
      );
    return creator === candidate.agentId ? 'creator' : 'member';
  });

  candidates.forEach((candidate, index) => {
    const { sessionId, agentId, sessionKey, server, serverFrom, cursor, notes } = candidate;
    const role = roles[index] ?? 'member';
    let alias = aliases.get(sessionId);
    if (alias !== undefined) {
      try {
        alias = validateAlias(alias);
        if (manager.sessions().some((session) => session.alias === alias)) {
          notes.push(
            `the alias "${alias}" already names another session here: imported without it`,
          );
          alias = undefined;
        }
      } catch {
        notes.push('its alias is not valid here: imported without it');
        alias = undefined;
      }
    }
    manager.registry.put(
      {
        sessionId,
        server,
        agentId,
        sessionKey,
        cursor,
        ...(alias !== undefined && { alias }),
        role,
        ...(role === 'creator' && { creatorAgentId: agentId }),
        createdAt: now,
        lastUsedAt: now,
      },
      'imported',
    );
    report.imported.push({
      sessionId,
      ...(alias !== undefined && { alias }),
      server,
      serverFrom,
      agentId,
      role,
      cursor,
      ...(notes.length > 0 && { notes }),
    });
  });
  return report;
}

interface Candidate {
  sessionId: string;
  agentId: string;
  sessionKey: string;
  server: string;
  serverFrom: 'server file' | 'config.json' | 'default';
  cursor: string;
  notes: string[];
  role?: 'creator' | 'member';
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function readText(path: string): string | undefined {
  try {
    const text = readFileSync(path, 'utf8').trim();
    return text || undefined;
  } catch {
    return undefined;
  }
}

/** The shell client's settings: `serverUrl` (its default relay) is the one that matters here. */
function readConfig(path: string): { serverUrl?: string; report: ImportReport['config'] } {
  const text = readText(path);
  if (text === undefined) return { report: {} };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { report: { problem: 'config.json is not JSON: ignored' } };
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    return { report: { problem: 'config.json holds no settings object: ignored' } };
  const settings = parsed as Record<string, unknown>;
  const ignored = Object.keys(settings).filter((key) => key !== 'serverUrl' && key !== 'url');
  const base = ignored.length > 0 ? { ignored } : {};
  const raw = settings.serverUrl ?? settings.url;
  if (typeof raw !== 'string' || raw.trim() === '') return { report: base };
  try {
    const serverUrl = normalizeServerUrl(raw.trim());
    return { serverUrl, report: { serverUrl, ...base } };
  } catch {
    return {
      report: { problem: 'config.json serverUrl is not an http(s) URL: ignored', ...base },
    };
  }
}

/** `{alias: sessionId}` as the shell client writes it; `{sessionId: alias}` is accepted too. */
function readAliases(path: string): Map<string, string> {
  const bySession = new Map<string, string>();
  const text = readText(path);
  if (!text) return bySession;
  const parsed = parseJsonText(text);
  if (!parsed || typeof parsed !== 'object') return bySession;
  for (const [key, value] of Object.entries(parsed)) {
    if (typeof value !== 'string') continue;
    if (looksLikeId(value) && !looksLikeId(key)) bySession.set(value, key);
    else if (looksLikeId(key) && !looksLikeId(value)) bySession.set(key, value);
  }
  return bySession;
}

/** Session ids are long hex strings; aliases are words. */
function looksLikeId(value: string): boolean {
  return /^[0-9a-f]{16,}$/i.test(value);
}
