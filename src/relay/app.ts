import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getConnInfo } from '@hono/node-server/conninfo';
import { type Context, Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { normalizeServerUrl } from '../protocol/index.js';
import { directMessageRoutes, type ErrorReply } from './direct-routes.js';
import { RelayError } from './errors.js';
import { LongPollWaiters } from './long-poll-waiters.js';
import { openStorage, storeUnavailable } from './open-storage.js';
import { type RelayOptions, type ResolvedRelayOptions, resolveRelayOptions } from './options.js';
import { RateLimiter } from './rate-limit.js';
import { RelayService } from './relay-service.js';
import type { RelayApp, RelayEnv } from './routes/deps.js';
import { messageRoutes } from './routes/messages.js';
import { metaRoutes } from './routes/meta.js';
import { pairingRoutes } from './routes/pairing.js';
import { sessionRoutes } from './routes/sessions.js';
import type { RelayStorage } from './storage.js';

export interface RelayApplication {
  app: RelayApp;
  /** Answers a send or poll of the plain shape itself and returns true; false: hand it to `app`. */
  serveDirect(req: IncomingMessage, res: ServerResponse): boolean;
  service: RelayService;
  storage: RelayStorage;
  options: ResolvedRelayOptions;
  /** Where the server listens; the pairing links' base when no publicUrl is configured. */
  setListeningUrl(url: string): void;
  /** How many polls are held open now. */
  pendingLongPolls(): number;
  /** Answers every held long-poll (empty) and every later one at once: the start of shutdown. */
  releaseLongPolls(): void;
  /** Stops the timers and flushes metadata; call after the server stopped taking requests. */
  dispose(): Promise<void>;
}

function socketAddress(c: Context): string | undefined {
  try {
    return getConnInfo(c).remote.address;
  } catch {
    // app.request() in-process has no socket.
    return 'local';
  }
}

/**
 * The client's address for rate limits and the session cap: the socket's, or behind a trusted
 * proxy the last X-Forwarded-For hop (the one the proxy itself appended; earlier hops are
 * whatever the client wrote).
 */
export function clientAddress(c: Context, trustProxy: boolean): string {
  return addressOf(c.req.header('x-forwarded-for'), socketAddress(c), trustProxy);
}

function addressOf(
  forwardedFor: string | undefined,
  socket: string | undefined,
  trustProxy: boolean,
): string {
  if (trustProxy) {
    const last = (forwardedFor ?? '').split(',').at(-1)?.trim();
    if (last) return last;
  }
  return socket ?? 'unknown';
}

/** Digests are remembered for this many addresses, then forgotten all at once. */
const DIGEST_CACHE_SIZE = 10_000;
const digests = new Map<string, string>();

/**
 * Stored instead of the address itself: the cap needs equality, not the address. Remembered,
 * because every request needs its client's digest and a SHA-256 per request cost ~3 % of the
 * relay's CPU under load (bench/profile-stores.ts).
 */
function addressDigest(address: string): string {
  let digest = digests.get(address);
  if (digest === undefined) {
    digest = createHash('sha256').update(address).digest('base64url').slice(0, 22);
    if (digests.size >= DIGEST_CACHE_SIZE) digests.clear();
    digests.set(address, digest);
  }
  return digest;
}

/**
 * Builds the relay's Hono app over its store; `startRelay` puts it behind a server. Rejects with
 * StoreRefused when the store cannot be used (unreadable or newer database, Redis unreachable).
 */
export async function createRelayApp(input: RelayOptions = {}): Promise<RelayApplication> {
  const options = resolveRelayOptions(input);
  const publicUrl = options.publicUrl ? normalizeServerUrl(options.publicUrl) : undefined;
  let listeningUrl: string | undefined;

  const storage = await openStorage(options);
  const waiters = new LongPollWaiters();
  const unsubscribe = storage.subscribe((sessionId, cursor) => waiters.notify(sessionId, cursor));
  const service = new RelayService(storage, options, waiters);
  const limiter = new RateLimiter(options.rateLimitPerMinute, options.clock, storage);

  const app: RelayApp = new Hono<RelayEnv>();

  app.use(async (c, next) => {
    const requestId = randomUUID();
    c.set('requestId', requestId);
    c.header('X-Request-Id', requestId);
    await next();
    if (!c.res.headers.has('X-Request-Id')) {
      c.res = new Response(c.res.body, c.res);
      c.res.headers.set('X-Request-Id', requestId);
    }
  });

  const admit = async (address: string): Promise<void> => {
    const decision = await limiter.check(address);
    if (!decision.allowed) {
      throw new RelayError(
        'rate_limit_exceeded',
        `Too many requests: try again in ${decision.retryAfterSeconds} seconds.`,
        { headers: { 'Retry-After': String(decision.retryAfterSeconds) } },
      );
    }
  };

  // /health stays reachable for monitors and for clients probing capabilities.
  app.use(async (c, next) => {
    const address = addressDigest(clientAddress(c, options.trustProxy));
    c.set('clientAddress', address);
    if (c.req.path !== '/health') await admit(address);
    return next();
  });

  const deps = {
    service,
    options,
    baseUrl: (c: Context): string => publicUrl ?? listeningUrl ?? new URL(c.req.url).origin,
  };
  sessionRoutes(app, deps);
  messageRoutes(app, deps);
  pairingRoutes(app, deps);
  metaRoutes(app, deps);

  app.notFound((c) =>
    c.json(new RelayError('not_found', `No endpoint ${c.req.method} ${c.req.path}.`).toBody(), 404),
  );
  const errorReply = (error: unknown, requestId: string): ErrorReply => {
    if (error instanceof RelayError) {
      return { status: error.status, body: error.toBody(), headers: error.headers };
    }
    const unavailableText = storeUnavailable(error);
    if (unavailableText !== undefined) {
      const { message } = error as Error;
      options.log(`nexus relay: store unavailable (request ${requestId}): ${message}`);
      const unavailable = new RelayError('internal_error', unavailableText, {
        status: 503,
        headers: { 'Retry-After': '5' },
      });
      return { status: 503, body: unavailable.toBody(), headers: unavailable.headers };
    }
    // The message and stack name code paths, never request data such as ids or keys.
    const { stack, message } = error as Error;
    options.log(`nexus relay: internal error (request ${requestId}): ${stack ?? message}`);
    return { status: 500, body: new RelayError('internal_error').toBody(), headers: {} };
  };
  app.onError((error, c) => {
    const { status, body, headers } = errorReply(error, c.get('requestId'));
    return c.json(body, status as ContentfulStatusCode, headers);
  });

  const serveDirect = directMessageRoutes({
    service,
    options,
    // Without a limit there is nothing to count: skip the address's digest and the await.
    ...(options.rateLimitPerMinute > 0 && {
      admit: (forwardedFor: string | undefined, socket: string | undefined) =>
        admit(addressDigest(addressOf(forwardedFor, socket, options.trustProxy))),
    }),
    errorReply,
  });

  const sweepTimer = setInterval(() => {
    service.sweep().catch((error: unknown) => {
      options.log(`nexus relay: sweep failed: ${(error as Error).message}`);
    });
  }, options.sweepIntervalMs);
  sweepTimer.unref();

  return {
    app,
    serveDirect,
    service,
    storage,
    options,
    setListeningUrl(url) {
      listeningUrl = url;
    },
    pendingLongPolls: () => waiters.pending,
    releaseLongPolls: () => waiters.closeAll(),
    async dispose() {
      clearInterval(sweepTimer);
      waiters.closeAll();
      unsubscribe();
      await storage.close();
    },
  };
}
