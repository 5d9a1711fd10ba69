import { createHash, randomUUID } from 'node:crypto';
import { getConnInfo } from '@hono/node-server/conninfo';
import { type Context, Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { normalizeServerUrl } from '../protocol/index.js';
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

function socketAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
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
  if (trustProxy) {
    const hops = (c.req.header('x-forwarded-for') ?? '').split(',');
    const last = hops.at(-1)?.trim();
    if (last) return last;
  }
  return socketAddress(c);
}

/** Stored instead of the address itself: the cap needs equality, not the address. */
function addressDigest(address: string): string {
  return createHash('sha256').update(address).digest('base64url').slice(0, 22);
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

  // /health stays reachable for monitors and for clients probing capabilities.
  app.use(async (c, next) => {
    const address = addressDigest(clientAddress(c, options.trustProxy));
    c.set('clientAddress', address);
    if (c.req.path === '/health') return next();
    const decision = await limiter.check(address);
    if (!decision.allowed) {
      throw new RelayError(
        'rate_limit_exceeded',
        `Too many requests: try again in ${decision.retryAfterSeconds} seconds.`,
        { headers: { 'Retry-After': String(decision.retryAfterSeconds) } },
      );
    }
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
  app.onError((error, c) => {
    if (error instanceof RelayError) {
      return c.json(error.toBody(), error.status as ContentfulStatusCode, error.headers);
    }
    if (storeUnavailable(error)) {
      options.log(
        `nexus relay: store unavailable (request ${c.get('requestId')}): ${error.message}`,
      );
      const unavailable = new RelayError(
        'internal_error',
        "The relay's store is unreachable: try again in a few seconds.",
        { status: 503, headers: { 'Retry-After': '5' } },
      );
      return c.json(unavailable.toBody(), 503, unavailable.headers);
    }
    // The message and stack name code paths, never request data such as ids or keys.
    options.log(
      `nexus relay: internal error (request ${c.get('requestId')}): ${error.stack ?? error.message}`,
    );
    return c.json(new RelayError('internal_error').toBody(), 500);
  });

  const sweepTimer = setInterval(() => {
    service.sweep().catch((error: unknown) => {
      options.log(`nexus relay: sweep failed: ${(error as Error).message}`);
    });
  }, options.sweepIntervalMs);
  sweepTimer.unref();

  return {
    app,
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
