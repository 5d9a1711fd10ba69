import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_RESPONSE_BYTES,
  maxResponseBytes,
  readBoundedText,
} from '../../src/core/bounded-body.js';
import { RelayClient } from '../../src/core/relay-client.js';
import { cleanup } from '../helpers/cleanup.js';
import { failure } from '../helpers/core.js';
import { startHostileRelay } from '../helpers/hostile-relay.js';

function client() {
  const c = new RelayClient({ timeoutMs: 5_000, retry: { baseDelayMs: 1, maxDelayMs: 2 } });
  cleanup(() => c.close());
  return c;
}

describe('bounded response bodies', () => {
  it('reads the cap from NEXUS_MAX_RESPONSE_BYTES, else 8 MiB', () => {
    expect(maxResponseBytes({})).toBe(8 * 1024 * 1024);
    expect(DEFAULT_MAX_RESPONSE_BYTES).toBe(8 * 1024 * 1024);
    expect(maxResponseBytes({ NEXUS_MAX_RESPONSE_BYTES: '1024' })).toBe(1024);
    for (const bad of ['0', '-5', 'lots', '1e9', ''])
      expect(maxResponseBytes({ NEXUS_MAX_RESPONSE_BYTES: bad })).toBe(DEFAULT_MAX_RESPONSE_BYTES);
  });

  it('reads a body up to the cap whole, multi-byte characters across chunks included', async () => {
    const text = 'é'.repeat(500);
    const bytes = Buffer.from(text);
    const body = Readable.from([bytes.subarray(0, 1), bytes.subarray(1)]);
    expect(await readBoundedText(body, { maxBytes: bytes.length })).toBe(text);
  });

  it('stops one byte past the cap and destroys the stream', async () => {
    const body = Readable.from([Buffer.alloc(600), Buffer.alloc(600)]);
    const error = await failure(readBoundedText(body, { maxBytes: 1_000, what: 'GET /x' }));
    expect(error.code).toBe('response_too_large');
    expect(error.message).toContain('GET /x');
    expect(error.hint).toMatch(/NEXUS_MAX_RESPONSE_BYTES/);
    expect(body.destroyed).toBe(true);
  });

  it('refuses a body whose Content-Length is over the cap without reading it', async () => {
    let pulled = false;
    const body = new Readable({
      read() {
        pulled = true;
        this.push(null);
      },
    });
    const error = await failure(
      readBoundedText(body, { maxBytes: 10, contentLength: '11', what: 'GET /y' }),
    );
    expect(error.code).toBe('response_too_large');
    expect(pulled).toBe(false);
  });

  it('ends an endless or 200 MB relay body with response_too_large, and the relay stays usable', async () => {
    const relay = await startHostileRelay();
    const http = client();
    for (const code of ['ENDLESS-BODY', 'HUGE-BODY']) {
      const error = await failure(http.claim(relay.url, code, 'me'));
      expect(error.code, code).toBe('response_too_large');
      expect(error.retryable).toBe(false);
    }
    // The endless stream was cut off near the cap, not read on.
    await expect.poll(() => relay.server.requests.length).toBe(2);
    expect(relay.written[0]).toBeLessThan(64 * 1024 * 1024);
    // The pool survives: the next call on the same origin works.
    const claimed = await http.claim(relay.url, 'GOOD-CODE', 'me');
    expect(claimed.data.sessionId).toBe(relay.sessionId);
  });

  it('answers protocol_error naming the field for contract breaks, such as a __proto__ id', async () => {
    const relay = await startHostileRelay();
    const http = client();
    const proto = await failure(http.claim(relay.url, 'PROTO-ID', 'me'));
    expect(proto.code).toBe('protocol_error');
    expect(proto.message).toContain('sessionId');
    const missing = await failure(http.claim(relay.url, 'MISSING-KEY', 'me'));
    expect(missing.code).toBe('protocol_error');
    expect(missing.message).toContain('sessionKey');
  });

  it('bounds and frames relay error text, and scrubs a straddling id before cutting', async () => {
    const relay = await startHostileRelay();
    const http = client();
    const flood = await failure(http.claim(relay.url, 'ERROR-TEXT', 'me'));
    expect(flood.code).toBe('invalid_request');
    expect(flood.message.length).toBeLessThan(600);
    expect(flood.message).toMatch(/^relay text \(untrusted\): "Bad request\. Next: call/);
    relay.mode = 'proxy502';
    const page = await failure(
      http.poll(
        { server: relay.url, sessionId: relay.sessionId, agentId: 'me' },
        {},
        { attempts: 1 },
      ),
    );
    expect(page.code).toBe('non_json_response');
    for (const secret of [relay.sessionId, relay.sessionKey])
      for (let start = 0; start + 13 <= secret.length; start++)
        expect(page.message).not.toContain(secret.slice(start, start + 13));
  });
});
