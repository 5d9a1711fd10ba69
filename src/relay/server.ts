import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { createRelayApp } from './app.js';
import type { RelayOptions } from './options.js';
import type { RelayService } from './relay-service.js';

export interface RunningRelay {
  /** http://HOST:PORT as listened on (not the public URL). */
  url: string;
  port: number;
  host: string;
  /** The protocol service behind the routes, for code that embeds the relay (benchmarks fill it). */
  service: RelayService;
  /** Stops listening, answers held long-polls, flushes metadata, closes every connection. */
  close(): Promise<void>;
}

/** Responses still being written get this long after shutdown begins. */
const DRAIN_TIMEOUT_MS = 5_000;

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Starts the relay and resolves once it listens. Prints nothing: the CLI announces it. */
export async function startRelay(options: RelayOptions = {}): Promise<RunningRelay> {
  const relay = await createRelayApp(options);
  const { host, port: wantedPort } = relay.options;
  const honoListener = getRequestListener(relay.app.fetch, { hostname: host });
  // Counted per response so shutdown can wait for the long-polls it just released. One shared
  // listener, not a closure per response: this runs on every request.
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const responseClosed = (): void => {
    inFlight--;
    if (inFlight === 0) drained?.();
  };
  const server = createServer((request, response) => {
    inFlight++;
    response.on('close', responseClosed);
    if (!relay.serveDirect(request, response)) void honoListener(request, response);
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(wantedPort, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await relay.dispose();
    throw error;
  }

  const port = (server.address() as AddressInfo).port;
  const url = `http://${urlHost(host)}:${port}`;
  relay.setListeningUrl(url);

  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    relay.releaseLongPolls();
    if (inFlight > 0) {
      await new Promise<void>((resolve) => {
        drained = resolve;
        setTimeout(resolve, DRAIN_TIMEOUT_MS).unref();
      });
    }
    server.closeAllConnections();
    await stopped;
    await relay.dispose();
  };

  return {
    url,
    port,
    host,
    service: relay.service,
    close: () => {
      closing ??= close();
      return closing;
    },
  };
}
