/**
 * Import of the reference shell client's sessions: `<dir>/sessions/<id>/{agent,key,cursor,server}`
 * and `<dir>/aliases.json`. Copies what our store lacks; never overwrites a session we have.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { type SessionManager, validateAlias } from '../core/index.js';
import { isAgentId, isCursor, isSessionId, normalizeServerUrl } from '../protocol/index.js';

function defaultShellClientDir(): string {
  return join(homedir(), '.config', 'messaging');
}

export interface ImportReport {
  source: string;
  imported: { sessionId: string; alias?: string; server: string; agentId: string }[];
  skipped: { sessionId: string; reason: string }[];
}

export function importShellClientSessions(
  manager: SessionManager,
  dir = defaultShellClientDir(),
): ImportReport {
  const report: ImportReport = { source: dir, imported: [], skipped: [] };
  const sessionsDir = join(dir, 'sessions');
  if (!existsSync(sessionsDir)) return report;
  const aliases = readAliases(join(dir, 'aliases.json'));
  const now = new Date().toISOString();

  for (const entry of readdirSync(sessionsDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const sessionId = entry.name;
    const skip = (reason: string) => report.skipped.push({ sessionId, reason });
    if (!isSessionId(sessionId)) {
      skip('not a session id');
      continue;
    }
    if (manager.registry.get(sessionId)) {
      skip('already in the store');
      continue;
    }
    const read = (name: string) => readText(join(sessionsDir, sessionId, name));
    const agentId = read('agent');
    const sessionKey = read('key');
    if (!agentId || !isAgentId(agentId) || !sessionKey) {
      skip('missing or invalid agent or key file');
      continue;
    }
    let server: string;
    try {
      server = normalizeServerUrl(read('server') ?? manager.defaultServer());
    } catch {
      skip('invalid server file');
      continue;
    }
    const cursorText = read('cursor');
    const cursor = cursorText && isCursor(cursorText) ? cursorText : '0';
    let alias = aliases.get(sessionId);
    if (alias !== undefined) {
      try {
        alias = validateAlias(alias);
        if (manager.sessions().some((session) => session.alias === alias)) alias = undefined;
      } catch {
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
        role: 'member',
        createdAt: now,
        lastUsedAt: now,
      },
      'imported',
    );
    report.imported.push({ sessionId, ...(alias !== undefined && { alias }), server, agentId });
  }
  return report;
}

function readText(path: string): string | undefined {
  try {
    const text = readFileSync(path, 'utf8').trim();
    return text || undefined;
  } catch {
    return undefined;
  }
}

/** `{alias: sessionId}` as the shell client writes it; `{sessionId: alias}` is accepted too. */
function readAliases(path: string): Map<string, string> {
  const bySession = new Map<string, string>();
  const text = readText(path);
  if (!text) return bySession;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return bySession;
  }
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
