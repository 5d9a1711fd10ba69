/** A relay's refusal details reach the caller as one bounded line: field, rule, value sent. */
import { describe, expect, it } from 'vitest';
import { NexusError } from '../../src/core/errors.js';
import { RelayClient } from '../../src/core/relay-client.js';
import { cleanup } from '../helpers/cleanup.js';
import { json, startFaultyServer } from '../helpers/faulty-server.js';

describe('refusal details', () => {
  it('folds the first details in, with the value sent, and bounds the rest', async () => {
    const details = Array.from({ length: 50 }, (_, index) => ({
      path: index === 0 ? 'maxAgents' : `field${index}`,
      message: `${'x'.repeat(500)} rule ${index}`,
    }));
    const relay = await startFaultyServer((_req, res) =>
      json(res, 400, { error: 'invalid_request', message: 'Invalid maxAgents', details }),
    );
    cleanup(() => relay.close());
    const client = new RelayClient({ timeoutMs: 2_000 });
    cleanup(() => client.close());
    const error = await client.create(relay.url, { maxAgents: 900 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NexusError);
    const { message, code } = error as NexusError;
    expect(code).toBe('invalid_request');
    expect(message).toMatch(
      /^relay text \(untrusted\): "Invalid maxAgents; maxAgents: x+…; sent maxAgents: 900; field1: x+…/,
    );
    expect(message).not.toContain('field3');
    expect(message.length).toBeLessThan(600);
  });
});
