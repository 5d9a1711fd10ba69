/**
 * `doctor`: what a human checks when something seems off. Reachability, version and
 * capabilities of every relay in use; for every session whether its relay still knows it and
 * whether we are still a member; the modes of the store and everything in it, and any entries it quarantined. Meant for a terminal, so it may show
 * full session ids.
 */

import { join } from 'node:path';
import {
  type LiveStatus,
  mapLimit,
  NETWORK_CAUSES,
  type NetworkCause,
  NexusError,
  type SessionManager,
  UNREACHABLE_HINTS,
} from '../core/index.js';
import { VERSION } from '../version.js';

export interface DoctorReport {
  ok: boolean;
  version: string;
  store: {
    dir: string;
    file: string;
    dirMode?: string;
    fileMode?: string;
    /** Entries under the store directory open to other users, relative to it. */
    loose?: { path: string; mode: string }[];
    ok: boolean;
  };
  /** Store entries that failed the schema, moved to the quarantine file for a human. */
  quarantined?: { file: string; entries: { sessionId: string; problem: string; at: string }[] };
  defaultServer: string;
  agentId: string;
  servers: {
    url: string;
    reachable: boolean;
    /** Why it could not be reached: dns, refused, tls, timeout, unreachable, reset, other. */
    cause?: NetworkCause;
    error?: string;
    version?: string;
    messageFormat?: string[];
    longPoll?: boolean;
  }[];
  sessions: {
    sessionId: string;
    alias?: string;
    server: string;
    agentId: string;
    role: string;
    relay: LiveStatus;
    member?: boolean;
    error?: string;
  }[];
  problems: string[];
  /** What to try when a relay cannot be reached (present only then). */
  hints?: string[];
}

const octal = (mode: number | undefined) =>
  mode === undefined ? undefined : `0${mode.toString(8)}`;

export async function runDoctor(manager: SessionManager): Promise<DoctorReport> {
  const problems: string[] = [];
  // Settles the install's agent id first: on a first run that writes the store file.
  const agentId = manager.defaultAgentId();
  const { dir, file, modes, loose: looseAll } = manager.registry.storeFiles();
  const modesOk = modes.dir === 0o700 && (modes.file === undefined || modes.file === 0o600);
  if (!modesOk) {
    problems.push(
      `Store permissions should be 0700 (dir) and 0600 (file); found ${octal(modes.dir)} and ${octal(modes.file)}.`,
    );
  }
  // Read positions, encryption state and locks beside the store file: the same rule, one line.
  const loose = looseAll.filter((entry) => join(dir, entry.path) !== file);
  if (loose.length > 0) {
    const shown = loose
      .slice(0, 3)
      .map((entry) => `${entry.path} ${octal(entry.mode)}`)
      .join(', ');
    problems.push(
      `Files in the store are open to other users (${shown}${loose.length > 3 ? ', …' : ''}): run chmod -R go-rwx ${dir}`,
    );
  }
  const storeOk = modesOk && loose.length === 0;

  const quarantined = manager.registry.quarantined();
  if (quarantined.entries.length > 0) {
    problems.push(
      `${quarantined.entries.length} invalid store entr${quarantined.entries.length === 1 ? 'y was' : 'ies were'} moved to ${quarantined.file}: repair and re-import by hand, or delete the file.`,
    );
  }

  const defaultServer = manager.defaultServer();
  const entries = await manager.list();
  const servers = [...new Set([defaultServer, ...entries.map((entry) => entry.session.server)])];
  const serverReports = await mapLimit(servers, 8, async (url) => {
    const data = await manager.health(url);
    if (data instanceof NexusError) {
      // Any answer, even an error page, proves the relay can be reached.
      if (data.code !== 'network_error' && data.code !== 'timeout') {
        problems.push(`Relay ${url} answered /health wrongly: ${data.message}`);
        return { url, reachable: true, error: data.message };
      }
      const cause = data.network ?? 'timeout';
      problems.push(`Relay ${url} is not reachable: ${NETWORK_CAUSES[cause]}.`);
      return { url, reachable: false, cause, error: data.message };
    }
    return {
      url,
      reachable: true,
      ...(data.version !== undefined && { version: data.version }),
      messageFormat: data.messageFormat,
      longPoll: data.longPoll,
    };
  });

  const sessions = entries.map((entry) => {
    const { session } = entry;
    if (entry.live === 'active' && entry.member === false) {
      problems.push(
        `Session ${session.label} is alive but ${session.agentId} is no longer a member: the next send or poll joins it again (unless NEXUS_AUTO_REJOIN=0), as does join_session with its alias.`,
      );
    }
    if (entry.live === 'error') problems.push(`Session ${session.label}: ${entry.error}`);
    return {
      sessionId: session.sessionId,
      ...(session.alias !== undefined && { alias: session.alias }),
      server: session.server,
      agentId: session.agentId,
      role: session.role,
      relay: entry.live,
      ...(entry.member !== undefined && { member: entry.member }),
      ...(entry.error !== undefined && { error: entry.error }),
    };
  });

  return {
    ok: problems.length === 0,
    version: VERSION,
    store: {
      dir,
      file,
      ...(modes.dir !== undefined && { dirMode: octal(modes.dir) }),
      ...(modes.file !== undefined && { fileMode: octal(modes.file) }),
      ...(loose.length > 0 && {
        loose: loose.map((entry) => ({ path: entry.path, mode: octal(entry.mode) as string })),
      }),
      ok: storeOk,
    },
    ...(quarantined.entries.length > 0 && { quarantined }),
    defaultServer,
    agentId,
    servers: serverReports,
    sessions,
    problems,
    ...(serverReports.some((server) => !server.reachable) && { hints: [...UNREACHABLE_HINTS] }),
  };
}
