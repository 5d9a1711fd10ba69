import { createHash, randomBytes } from 'node:crypto';
import {
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  createClient,
  SocketClosedUnexpectedlyError,
  TimeoutError,
} from '@redis/client';
import { CommandDeadlines } from './redis-deadlines.js';
import type {
  AddAgentResult,
  AgentRecord,
  ClaimPairCodeResult,
  CreateSessionResult,
  MessageDraft,
  MessageListener,
  PairCodeRecord,
  RelayStorage,
  SessionOwner,
  SessionRecord,
  StorageCounts,
  StoredMessage,
} from './storage.js';
import { StoreRefused } from './store-errors.js';

function connectTo(url: string) {
  // Without Redis a request fails at once (503) instead of waiting in a queue for a reconnect.
  return createClient({ url, disableOfflineQueue: true });
}

/**
 * A command Redis did not answer in time: it may still run there, so a write it carried may
 * have been kept.
 */
export function isRedisTimeout(error: unknown): boolean {
  return error instanceof TimeoutError;
}

/** Whether an error means the Redis store is unreachable right now (not a bug in the relay). */
export function isRedisUnavailable(error: unknown): boolean {
  return (
    error instanceof ClientOfflineError ||
    error instanceof ClientClosedError ||
    error instanceof SocketClosedUnexpectedlyError ||
    error instanceof ConnectionTimeoutError ||
    // A command the client gave up on (the paths outside command()'s own deadlines).
    error instanceof TimeoutError
  );
}
type Client = ReturnType<typeof connectTo>;

/** Keys outlive their expiry time by this much, so a clock slightly behind Redis's still sees them. */
const GRACE_MS = 60_000;
/**
 * A session's channel stays subscribed this long after its last long-poll ends: a client polls
 * again at once, and unsubscribing and resubscribing in between races (a pending unsubscribe
 * reply would drop the new listener) and costs two round trips per poll.
 */
const UNWATCH_LINGER_MS = 30_000;
/** A command unanswered this long fails as the store being unreachable (@redis/client's default). */
const COMMAND_TIMEOUT_MS = 5_000;
/** For command(): CommandDeadlines times these out, not the client. */
const UNTIMED = { timeout: 0 };
/** At most this many key digests are remembered (see keyHash), of keys at most this long. */
const KEY_HASHES_MAX = 10_000;
const MAX_REMEMBERED_KEY_CHARS = 128;
/** Claimed and expired pair codes still answer for an hour (the service's retention). */
const PAIR_RETENTION_MS = 60 * 60 * 1000;

/*
 * Four keys per session under the `{sessionId}` hash tag, so a session lives on one cluster slot
 * and each script below touches one slot: meta (hash: ttl, max, greeting, creator, created,
 * expires, cursor, seq), agents (hash: id → "seq:joinedAt:key"), seen (hash: id → lastSeenAt),
 * msgs (sorted set by cursor: "cursor:draft JSON"). Redis TTLs follow the session's expiry.
 */

const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local nmeta = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], unpack(ARGV, 3, 2 + nmeta))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
local i = 3 + nmeta
while i <= #ARGV do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 2])
  i = i + 3
end
if i > 3 + nmeta then
  redis.call('PEXPIRE', KEYS[2], ARGV[1])
  redis.call('PEXPIRE', KEYS[3], ARGV[1])
end
return 1`;

const READ = `
return {redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[3])}`;

const TOUCH = `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local ttl = ARGV[2]
if ttl == '' then ttl = redis.call('HGET', KEYS[1], 'ttl') else redis.call('HSET', KEYS[1], 'ttl', ttl) end
local px = tonumber(ttl) * 1000 + tonumber(ARGV[4])
redis.call('HSET', KEYS[1], 'expires', tonumber(ARGV[1]) + tonumber(ttl) * 1000)
if redis.call('HEXISTS', KEYS[2], ARGV[3]) == 1 then redis.call('HSET', KEYS[3], ARGV[3], ARGV[1]) end
for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], px) end
return {redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[3])}`;

const ADD_AGENT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 'missing' end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 'taken' end
if redis.call('HLEN', KEYS[2]) >= tonumber(redis.call('HGET', KEYS[1], 'max')) then return 'full' end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('HSET', KEYS[2], ARGV[1], seq .. ':' .. ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
local px = redis.call('PTTL', KEYS[1])
if px > 0 then
  redis.call('PEXPIRE', KEYS[2], px)
  redis.call('PEXPIRE', KEYS[3], px)
end
return 'added'`;

const REMOVE_AGENT = `
redis.call('HDEL', KEYS[2], ARGV[1])
return redis.call('HDEL', KEYS[1], ARGV[1])`;

/**
 * Appends: KEYS meta, msgs, channel, agents, seen; ARGV draft JSON, cap, at, agent, grace; the
 * script first sets draft, ttl and member (whether the sender is one). The four keys' Redis TTLs
 * are pushed out only when that would move them by a second or more, not on every send, judged
 * by msgs' remaining TTL on Redis's own clock (every place that sets one TTL sets all four; a
 * new msgs has none, -1, so the first message gives it one). Judging by the relays' clocks
 * instead would let one relay whose clock is ahead hold off the others' push-outs.
 */
const APPEND_BODY = `
local at = tonumber(ARGV[3])
local c = redis.call('HINCRBY', KEYS[1], 'cursor', 1)
redis.call('ZADD', KEYS[2], c, c .. ':' .. draft)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', c - tonumber(ARGV[2]))
local px = ttl * 1000 + tonumber(ARGV[5])
if px - redis.call('PTTL', KEYS[2]) >= 1000 then
  redis.call('HSET', KEYS[1], 'expires', at + ttl * 1000)
  redis.call('PEXPIRE', KEYS[1], px)
  redis.call('PEXPIRE', KEYS[2], px)
  redis.call('PEXPIRE', KEYS[4], px)
  redis.call('PEXPIRE', KEYS[5], px)
else
  redis.call('HSET', KEYS[1], 'expires', at + ttl * 1000)
end
if member then redis.call('HSET', KEYS[5], ARGV[4], ARGV[3]) end
redis.call('SPUBLISH', KEYS[3], c)`;

const APPEND = `
local ttl = redis.call('HGET', KEYS[1], 'ttl')
if not ttl then return false end
local draft = ARGV[1]
ttl = tonumber(ttl)
local member = redis.call('HEXISTS', KEYS[4], ARGV[4]) == 1
${APPEND_BODY}
return c`;

/**
 * APPEND after the send's checks, all before any write; false when one does not pass plainly.
 * ARGV as APPEND's (the draft without expiresAt), then idle ms, key-hash secret, given key's
 * hash ('' = no key). Keys are compared as keyed SHA-1 digests, so the comparison's timing
 * says nothing about the stored key.
 */
const APPEND_IF_ALLOWED = `
local m = redis.call('HMGET', KEYS[1], 'ttl', 'expires', 'creator')
if not m[1] then return false end
if tonumber(m[2]) <= tonumber(ARGV[3]) then return false end
local agent = redis.call('HGET', KEYS[4], ARGV[4])
if not agent then return false end
local _, joined, stored = string.match(agent, '^(%d+):(%d+):(.*)$')
if not joined then return false end
local idle = tonumber(ARGV[6])
if idle > 0 and m[3] ~= ARGV[4] then
  local seen = tonumber(redis.call('HGET', KEYS[5], ARGV[4]) or joined)
  if seen + idle <= tonumber(ARGV[3]) then return false end
end
if ARGV[8] ~= '' and redis.sha1hex(ARGV[7] .. stored) ~= ARGV[8] then return false end
local ttl = tonumber(m[1])
local member = true
local draft = string.sub(ARGV[1], 1, -2) .. ',"expiresAt":' .. string.format('%d', tonumber(ARGV[3]) + ttl * 1000) .. '}'
${APPEND_BODY}
return {c, ttl}`;

const PUT_PAIR = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'session', ARGV[1], 'created', ARGV[2], 'expires', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1`;

const CLAIM_PAIR = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 'missing' end
local v = redis.call('HMGET', KEYS[1], 'claimed', 'expires')
if v[1] or tonumber(v[2]) <= tonumber(ARGV[1]) then return 'unavailable' end
redis.call('HSET', KEYS[1], 'claimed', ARGV[1])
return 'claimed'`;

/** Fixed windows on the relay's clock (not Redis's), so every process agrees with its own tests. */
const COUNT_REQUEST = `
local v = redis.call('HMGET', KEYS[1], 'start', 'count')
local now = tonumber(ARGV[1])
if not v[1] or now - tonumber(v[1]) >= 60000 then
  redis.call('HSET', KEYS[1], 'start', now, 'count', 1)
  redis.call('PEXPIRE', KEYS[1], 120000)
  return {1, now}
end
return {redis.call('HINCRBY', KEYS[1], 'count', 1), tonumber(v[1])}`;

type Reply = string | number | null | Reply[];

function pairs(flat: Reply): Map<string, string> {
  const map = new Map<string, string>();
  const list = (flat ?? []) as string[];
  for (let i = 0; i + 1 < list.length; i += 2) map.set(list[i] as string, list[i + 1] as string);
  return map;
}

function sessionFrom(sessionId: string, reply: Reply[]): SessionRecord | undefined {
  const meta = pairs(reply[0] ?? null);
  if (meta.size === 0) return undefined;
  const seen = pairs(reply[2] ?? null);
  const agents = [...pairs(reply[1] ?? null)].map(([agentId, value]) => {
    const [seq, joinedAt, ...key] = value.split(':');
    return {
      seq: Number(seq),
      agent: {
        agentId,
        sessionKey: key.join(':'),
        joinedAt: Number(joinedAt),
        lastSeenAt: Number(seen.get(agentId) ?? joinedAt),
      },
    };
  });
  agents.sort((a, b) => a.seq - b.seq);
  const session: SessionRecord = {
    sessionId,
    ttlSeconds: Number(meta.get('ttl')),
    maxAgents: Number(meta.get('max')),
    createdAt: Number(meta.get('created')),
    expiresAt: Number(meta.get('expires')),
    lastCursor: Number(meta.get('cursor')),
    agents: agents.map((entry) => entry.agent),
  };
  const greeting = meta.get('greeting');
  const creator = meta.get('creator');
  if (greeting !== undefined) session.greeting = greeting;
  if (creator !== undefined) session.creatorAgentId = creator;
  return session;
}

interface Watch {
  count: number;
  ready: Promise<void>;
  listener: (message: string) => void;
  linger: NodeJS.Timeout | undefined;
}

export interface RedisStorageOptions {
  url: string;
  maxMessagesPerSession: number;
  /** Prefix of every key (lets several relays or test runs share one Redis). */
  keyPrefix?: string;
  /** Told of connection trouble (never of keys or ids). */
  log: (line: string) => void;
}

/**
 * Everything in Redis, shared by every relay process pointed at it: one Lua script per protocol
 * operation (atomic across processes), Redis TTLs for expiry, long-poll wake-ups by sharded
 * pub/sub on a channel per session, request counters in Redis.
 */
export class RedisStorage implements RelayStorage {
  private readonly listeners = new Set<MessageListener>();
  private readonly watched = new Map<string, Watch>();
  private readonly shas = new Map<string, string>();
  private readonly prefix: string;
  /** Keys are compared in Redis as SHA-1 of this secret and the key (APPEND_IF_ALLOWED). */
  private readonly keySecret = randomBytes(16).toString('hex');
  /** Digests of keys sent lately (keySecret's digests, for APPEND_IF_ALLOWED), forgotten when full. */
  private readonly keyHashes = new Map<string, string>();
  private readonly deadlines = new CommandDeadlines(COMMAND_TIMEOUT_MS);

  static async open(options: RedisStorageOptions): Promise<RedisStorage> {
    const client = connectTo(options.url);
    const subscriber = client.duplicate();
    // The clients reconnect by themselves: one line when the connection is lost, one when it is
    // back, not one per retry.
    let down = false;
    for (const c of [client, subscriber]) {
      c.on('error', (error: Error) => {
        if (down) return;
        down = true;
        options.log(`nexus relay: redis unreachable (${error.message}); retrying`);
      });
      c.on('ready', () => {
        if (!down) return;
        down = false;
        options.log('nexus relay: redis reachable again');
      });
    }
    const where = new URL(options.url).host;
    try {
      await Promise.race([
        Promise.all([client.connect(), subscriber.connect()]),
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error('no answer in 5 s')), 5_000).unref(),
        ),
      ]);
      await client.ping();
    } catch (error) {
      client.destroy();
      subscriber.destroy();
      throw new StoreRefused(
        `cannot reach the Redis store at ${where} (${(error as Error).message}): start redis-server or fix --store`,
      );
    }
    return new RedisStorage(client, subscriber, options);
  }

  private constructor(
    private readonly client: Client,
    private readonly subscriber: Client,
    private readonly options: RedisStorageOptions,
  ) {
    this.prefix = options.keyPrefix ?? 'nexus:';
  }

  async createSession(session: SessionRecord, owner?: SessionOwner): Promise<CreateSessionResult> {
    const ownerKey = owner && `${this.prefix}owner:{${owner.address}}`;
    if (owner && ownerKey) {
      // Its own slot, so not in the session's script: under a burst of creates from one address
      // across processes the cap can be passed by the few in flight, which is enough for a cap.
      await this.client.zRemRangeByScore(ownerKey, '-inf', session.createdAt);
      if ((await this.client.zCard(ownerKey)) >= owner.maxSessions) return 'limit';
    }
    const meta: string[] = [
      'ttl',
      String(session.ttlSeconds),
      'max',
      String(session.maxAgents),
      'created',
      String(session.createdAt),
      'expires',
      String(session.expiresAt),
      'cursor',
      String(session.lastCursor),
      'seq',
      String(session.agents.length),
    ];
    if (session.greeting !== undefined) meta.push('greeting', session.greeting);
    if (session.creatorAgentId !== undefined) meta.push('creator', session.creatorAgentId);
    const agents = session.agents.flatMap((agent, index) => [
      agent.agentId,
      `${index + 1}:${agent.joinedAt}:${agent.sessionKey}`,
      String(agent.lastSeenAt),
    ]);
    const keys = this.keys(session.sessionId);
    const created = await this.eval(
      CREATE,
      [keys.meta, keys.agents, keys.seen],
      [String(session.ttlSeconds * 1000 + GRACE_MS), String(meta.length), ...meta, ...agents],
    );
    if (created !== 1) return 'taken';
    if (ownerKey) {
      await this.client.zAdd(ownerKey, { score: session.expiresAt, value: session.sessionId });
      await this.client.pExpire(ownerKey, session.ttlSeconds * 1000 + GRACE_MS);
    }
    return 'created';
  }

  async getSession(sessionId: string): Promise<SessionRecord | undefined> {
    const keys = this.keys(sessionId);
    const reply = (await this.eval(READ, [keys.meta, keys.agents, keys.seen], [])) as Reply[];
    return sessionFrom(sessionId, reply);
  }

  async deleteSession(sessionId: string): Promise<void> {
    const keys = this.keys(sessionId);
    await this.client.del([keys.meta, keys.agents, keys.seen, keys.msgs]);
  }

  async listSessionIds(): Promise<string[]> {
    const ids: string[] = [];
    const pattern = `${this.prefix}{*}:meta`;
    for await (const batch of this.client.scanIterator({ MATCH: pattern, COUNT: 500 })) {
      for (const key of batch) ids.push(key.slice(this.prefix.length + 1, -'}:meta'.length));
    }
    return ids;
  }

  async touch(
    sessionId: string,
    agentId: string,
    at: number,
    ttlSeconds?: number,
  ): Promise<SessionRecord | undefined> {
    const keys = this.keys(sessionId);
    const reply = (await this.eval(
      TOUCH,
      [keys.meta, keys.agents, keys.seen, keys.msgs],
      [String(at), ttlSeconds === undefined ? '' : String(ttlSeconds), agentId, String(GRACE_MS)],
    )) as Reply[] | null;
    return reply ? sessionFrom(sessionId, reply) : undefined;
  }

  async addAgent(sessionId: string, agent: AgentRecord): Promise<AddAgentResult> {
    const keys = this.keys(sessionId);
    return (await this.eval(
      ADD_AGENT,
      [keys.meta, keys.agents, keys.seen],
      [agent.agentId, `${agent.joinedAt}:${agent.sessionKey}`, String(agent.lastSeenAt)],
    )) as AddAgentResult;
  }

  async removeAgent(sessionId: string, agentId: string): Promise<boolean> {
    const keys = this.keys(sessionId);
    return (await this.eval(REMOVE_AGENT, [keys.agents, keys.seen], [agentId])) === 1;
  }

  async appendMessage(sessionId: string, draft: MessageDraft): Promise<StoredMessage | undefined> {
    const cursor = await this.eval(APPEND, ...this.appendArgs(sessionId, draft, []));
    if (typeof cursor !== 'number') return undefined;
    return { ...draft, cursor };
  }

  /** A send in one round trip: the session read the checks need happens in the script. */
  async appendIfAllowed(
    sessionId: string,
    draft: Omit<MessageDraft, 'expiresAt'>,
    check: { key: string | undefined; idleMs: number },
  ): Promise<StoredMessage | undefined> {
    const keyHash = check.key === undefined ? '' : this.keyHash(check.key);
    const extra = [String(check.idleMs), this.keySecret, keyHash];
    const reply = await this.eval(APPEND_IF_ALLOWED, ...this.appendArgs(sessionId, draft, extra));
    if (!Array.isArray(reply)) return undefined;
    // Only a key the script accepted is remembered: a stranger's guesses never fill the map.
    if (check.key !== undefined) this.rememberKeyHash(check.key, keyHash);
    const [cursor, ttl] = reply as number[];
    return {
      ...draft,
      cursor: cursor as number,
      expiresAt: draft.createdAt + (ttl as number) * 1000,
    };
  }

  /** The key's keyed digest; remembered once accepted: a client sends one key with every message. */
  private keyHash(key: string): string {
    return (
      this.keyHashes.get(key) ??
      createHash('sha1')
        .update(this.keySecret + key)
        .digest('hex')
    );
  }

  /** Keys the relay hands out are 64 hex characters; nothing longer is ever held. */
  private rememberKeyHash(key: string, hash: string): void {
    if (key.length > MAX_REMEMBERED_KEY_CHARS || this.keyHashes.has(key)) return;
    if (this.keyHashes.size >= KEY_HASHES_MAX) this.keyHashes.clear();
    this.keyHashes.set(key, hash);
  }

  private appendArgs(
    sessionId: string,
    draft: Omit<MessageDraft, 'expiresAt'>,
    extra: string[],
  ): [string[], string[]] {
    const keys = this.keys(sessionId);
    return [
      [keys.meta, keys.msgs, keys.channel, keys.agents, keys.seen],
      [
        JSON.stringify(draft),
        String(this.options.maxMessagesPerSession),
        String(draft.createdAt),
        draft.agentId,
        String(GRACE_MS),
        ...extra,
      ],
    ];
  }

  async readMessages(
    sessionId: string,
    after: number | undefined,
    limit: number,
    now: number,
  ): Promise<StoredMessage[]> {
    const msgs = this.keys(sessionId).msgs;
    const range = [
      'ZRANGE',
      msgs,
      `(${after ?? 0}`,
      '+inf',
      'BYSCORE',
      'LIMIT',
      '0',
      String(limit),
    ];
    const members = (await this.command(range)) as string[];
    const messages: StoredMessage[] = [];
    for (const member of members) {
      const colon = member.indexOf(':');
      const draft = JSON.parse(member.slice(colon + 1)) as MessageDraft;
      if (draft.expiresAt > now)
        messages.push({ ...draft, cursor: Number(member.slice(0, colon)) });
    }
    return messages;
  }

  subscribe(listener: MessageListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async watch(sessionId: string): Promise<() => void> {
    const channel = this.keys(sessionId).channel;
    let entry = this.watched.get(sessionId);
    if (!entry) {
      const listener = (message: string): void => {
        for (const notify of this.listeners) notify(sessionId, Number(message));
      };
      const ready = this.subscriber.sSubscribe(channel, listener);
      entry = { count: 0, ready, listener, linger: undefined };
      this.watched.set(sessionId, entry);
    }
    const watching = entry;
    watching.count++;
    clearTimeout(watching.linger);
    watching.linger = undefined;
    let done = false;
    const unwatch = (): void => {
      if (done) return;
      done = true;
      watching.count--;
      if (watching.count > 0) return;
      watching.linger = setTimeout(() => {
        if (watching.count > 0 || this.watched.get(sessionId) !== watching) return;
        this.watched.delete(sessionId);
        this.subscriber.sUnsubscribe(channel, watching.listener).catch(() => undefined);
      }, UNWATCH_LINGER_MS);
      watching.linger.unref();
    };
    try {
      await watching.ready;
    } catch (error) {
      unwatch();
      throw error;
    }
    return unwatch;
  }

  async putPairCode(record: PairCodeRecord): Promise<boolean> {
    const keep = record.expiresAt - record.createdAt + PAIR_RETENTION_MS + GRACE_MS;
    const stored = await this.eval(
      PUT_PAIR,
      [this.pairKey(record.code)],
      [record.sessionId, String(record.createdAt), String(record.expiresAt), String(keep)],
    );
    return stored === 1;
  }

  async getPairCode(code: string): Promise<PairCodeRecord | undefined> {
    const fields = await this.client.hGetAll(this.pairKey(code));
    if (fields.session === undefined) return undefined;
    const record: PairCodeRecord = {
      code,
      sessionId: fields.session,
      createdAt: Number(fields.created),
      expiresAt: Number(fields.expires),
    };
    if (fields.claimed !== undefined) record.claimedAt = Number(fields.claimed);
    return record;
  }

  async claimPairCode(code: string, at: number): Promise<ClaimPairCodeResult> {
    return (await this.eval(CLAIM_PAIR, [this.pairKey(code)], [String(at)])) as ClaimPairCodeResult;
  }

  async releasePairCode(code: string): Promise<void> {
    await this.client.hDel(this.pairKey(code), 'claimed');
  }

  /** Redis expires pair codes by TTL. */
  async prunePairCodes(): Promise<void> {}

  /** Redis expires sessions by TTL; the service drops a session found expired on its clock. */
  async dropExpired(): Promise<void> {}

  async counts(now: number): Promise<StorageCounts> {
    const counts: StorageCounts = { sessions: 0, agents: 0, messages: 0 };
    for (const sessionId of await this.listSessionIds()) {
      const keys = this.keys(sessionId);
      const [expires, agents, messages] = await Promise.all([
        this.client.hGet(keys.meta, 'expires'),
        this.client.hLen(keys.agents),
        this.client.zCard(keys.msgs),
      ]);
      if (expires === null || Number(expires) <= now) continue;
      counts.sessions++;
      counts.agents += agents;
      counts.messages += messages;
    }
    return counts;
  }

  async countRequest(address: string, now: number) {
    const [count, windowStart] = (await this.eval(
      COUNT_REQUEST,
      [`${this.prefix}rate:{${address}}`],
      [String(now)],
    )) as [number, number];
    return { count, windowStart };
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.deadlines.close();
    for (const entry of this.watched.values()) clearTimeout(entry.linger);
    this.watched.clear();
    await Promise.allSettled([this.subscriber.close(), this.client.close()]);
  }

  private keys(sessionId: string) {
    const base = `${this.prefix}{${sessionId}}`;
    return {
      meta: `${base}:meta`,
      agents: `${base}:agents`,
      seen: `${base}:seen`,
      msgs: `${base}:msgs`,
      channel: `${base}:wake`,
    };
  }

  private pairKey(code: string): string {
    return `${this.prefix}pair:{${code}}`;
  }

  /** EVALSHA, loading the script on first use and again after a Redis restart (NOSCRIPT). */
  private async eval(script: string, keys: string[], args: string[]): Promise<Reply> {
    let sha = this.shas.get(script);
    if (sha === undefined) {
      sha = await this.client.scriptLoad(script);
      this.shas.set(script, sha);
    }
    try {
      return await this.command(['EVALSHA', sha, String(keys.length), ...keys, ...args]);
    } catch (error) {
      if (!(error as Error).message.startsWith('NOSCRIPT')) throw error;
      return await this.command(['EVAL', script, String(keys.length), ...keys, ...args]);
    }
  }

  /**
   * The hot path's commands (scripts, message reads): sent as they are, skipping the client's
   * per-command parsing and its per-command timer; CommandDeadlines bounds them instead.
   */
  private command(args: string[]): Promise<Reply> {
    return this.deadlines.track(this.client.sendCommand<Reply>(args, UNTIMED));
  }
}
