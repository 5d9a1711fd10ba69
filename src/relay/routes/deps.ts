import type { Context, Hono } from 'hono';
import type { ResolvedRelayOptions } from '../options.js';
import type { RelayService } from '../relay-service.js';

/** clientAddress: a digest of the client's address (see app.ts), never the address itself. */
export type RelayEnv = { Variables: { requestId: string; clientAddress: string } };
export type RelayApp = Hono<RelayEnv>;

/** What every route module is given. */
export interface RouteDeps {
  service: RelayService;
  options: ResolvedRelayOptions;
  /** The relay's public base URL, without a trailing slash (may carry a path). */
  baseUrl(c: Context): string;
}
