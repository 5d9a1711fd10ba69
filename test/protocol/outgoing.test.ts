import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { configFromEnv } from '../../src/core/config.js';
import {
  base32Encode,
  E2eKey,
  sealEnvelope,
  withE2eFragment,
} from '../../src/protocol/e2e/index.js';
import {
  prepareOutgoing,
  redactJson,
  redactOutgoing,
  redactSecrets,
  SecretInMessageError,
  SecretScanner,
} from '../../src/protocol/index.js';
import { TestRelay } from '../relay/helpers.js';

// Assembled at run time so secret scanners do not mistake the fixtures for leaked credentials.
const GITHUB = `gh${'p_'}${'a1B2c3D4e5'.repeat(4).slice(0, 36)}`;
const AWS = `AKIA${'IOSFODNN7EXAMPLE'}`;

describe('redactOutgoing', () => {
  it('redacts text and json with the relay patterns and counts the replacements', () => {
    const result = redactOutgoing({
      text: `deploy with ${GITHUB} and password=hunter2`,
      json: { env: { AWS_KEY: AWS }, note: 'fine' },
    });
    expect(result).toEqual({
      body: {
        text: 'deploy with [REDACTED:github_token] and password=[REDACTED:password]',
        json: { env: { AWS_KEY: '[REDACTED:aws_access_key]' }, note: 'fine' },
      },
      redacted: 3,
    });
  });

  it('leaves clean bodies, and bodies without text or json, as they are', () => {
    expect(redactOutgoing({ text: 'the secret of success' })).toEqual({
      body: { text: 'the secret of success' },
      redacted: 0,
    });
    expect(redactOutgoing({ json: [1, 2] })).toEqual({ body: { json: [1, 2] }, redacted: 0 });
  });
});

describe('SecretScanner', () => {
  // Bytes whose base64 holds + and /, so base64 and base64url spellings differ.
  const sessionKey = Buffer.alloc(32, 0xfe).toString('hex');
  const secret = Buffer.alloc(32, 0xfb);
  const scanner = new SecretScanner([
    { kind: 'session_key', value: sessionKey },
    { kind: 'e2e_secret', value: secret },
  ]);
  const keyBytes = Buffer.from(sessionKey, 'hex');

  it.each([
    ['session key as stored', sessionKey, 'session_key', 'raw'],
    ['session key in capitals', sessionKey.toUpperCase(), 'session_key', 'raw'],
    ['session key bytes in base64', keyBytes.toString('base64'), 'session_key', 'base64'],
    ['session key bytes in base64url', keyBytes.toString('base64url'), 'session_key', 'base64url'],
    ['session key bytes in base32', base32Encode(keyBytes).toUpperCase(), 'session_key', 'base32'],
    [
      'session key text in base64',
      Buffer.from(sessionKey).toString('base64'),
      'session_key',
      'base64',
    ],
    ['S in hex', secret.toString('hex'), 'e2e_secret', 'hex'],
    ['S in base64', secret.toString('base64'), 'e2e_secret', 'base64'],
    ['S in base64url', secret.toString('base64url'), 'e2e_secret', 'base64url'],
    ['S in base32', base32Encode(secret), 'e2e_secret', 'base32'],
    ['S percent-encoded', encodeURIComponent(secret.toString('base64')), 'e2e_secret', 'base64'],
  ])('finds the %s inside a body', (_name, encoded, kind, encoding) => {
    const body = { text: `here you go: ${encoded} (keep it safe)` };
    expect(scanner.find(body)).toEqual({ kind, encoding });
    expect(scanner.find({ json: { nested: [`x${encoded}y`] } })).toEqual({ kind, encoding });
  });

  it('refuses any link carrying an e2e key, ours or another session’s, even percent-encoded', () => {
    const other = withE2eFragment('https://relay.example/p/A-B', E2eKey.generate());
    expect(new SecretScanner([]).find({ text: `join ${other}` })).toEqual({
      kind: 'e2e_link',
      encoding: 'link',
    });
    expect(new SecretScanner([]).find({ text: encodeURIComponent(other) })).toEqual({
      kind: 'e2e_link',
      encoding: 'link',
    });
  });

  it('passes ordinary text, other keys, envelopes and a link without a key', () => {
    const key = E2eKey.fromSecret(secret);
    const envelope = sealEnvelope({
      key,
      sessionId: 's'.repeat(48),
      senderAgentId: 'a',
      kind: 'message',
      seq: 1,
      payload: { text: 'x' },
    });
    for (const text of [
      'see you at 5',
      randomBytes(32).toString('hex'),
      envelope,
      'https://relay.example/p/PEARL-FOCAL-S5SJV',
      sessionKey.slice(0, 40),
    ]) {
      expect(scanner.find({ text }), text).toBeNull();
    }
  });
});

describe('prepareOutgoing', () => {
  const sessionKey = randomBytes(32).toString('hex');
  const scanner = new SecretScanner([{ kind: 'session_key', value: sessionKey }]);

  it('refuses a stored secret whether or not redaction is on, with a message that does not hold it', () => {
    for (const redaction of [true, false]) {
      let error: unknown;
      try {
        prepareOutgoing({ text: `key: ${sessionKey}` }, { redaction, scanner });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(SecretInMessageError);
      expect((error as SecretInMessageError).code).toBe('secret_in_message');
      expect((error as SecretInMessageError).finding).toEqual({
        kind: 'session_key',
        encoding: 'raw',
      });
      expect(String((error as Error).message)).not.toContain(sessionKey.slice(0, 12));
    }
  });

  it('redacts when on and passes the body through when a human turned it off', () => {
    const body = { text: `token ${GITHUB}` };
    expect(prepareOutgoing(body, { redaction: true, scanner })).toEqual({
      body: { text: 'token [REDACTED:github_token]' },
      redacted: 1,
    });
    expect(prepareOutgoing(body, { redaction: false, scanner })).toEqual({ body, redacted: 0 });
  });
});

describe('envelopes and the relay redaction', () => {
  const key = E2eKey.generate();
  const envelopeOf = (size: number, seed: number): string =>
    sealEnvelope({
      key,
      sessionId: 'f'.repeat(48),
      senderAgentId: 'agent-x',
      kind: 'message',
      seq: seed + 1,
      // Secret-looking plaintext: it must not show through the ciphertext either.
      payload: { text: `password=${'Zz9'.repeat(size)}`.slice(0, size) },
    });

  it('pass the redaction patterns unchanged, 100 B to 16 KiB', () => {
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 16 * 1024 - 20 }), fc.nat(1000), (size, seed) => {
        const envelope = envelopeOf(size, seed);
        expect(redactSecrets(envelope)).toEqual({ text: envelope, count: 0 });
        expect(redactJson({ text: envelope })).toEqual({ value: { text: envelope }, count: 0 });
      }),
      { numRuns: 150 },
    );
  });

  it('come back byte for byte from our relay', async () => {
    const relay = await TestRelay.use();
    const { sessionId, key: sessionKey } = await relay.sessionWithCreator('alice');
    const sizes = [100, 1024, 5000, 16 * 1024 - 20];
    const sent = sizes.map((size, i) => envelopeOf(size, i));
    for (const text of sent) {
      expect((await relay.send(sessionId, 'alice', { text }, sessionKey)).redacted).toBe(0);
    }
    const { messages } = await relay.poll(sessionId, 'alice');
    expect(messages.map((message) => message.text)).toEqual(sent);
  });
});

describe('NEXUS_CLIENT_REDACTION', () => {
  it('is on unless a human sets it off, and rejects anything else', () => {
    expect(configFromEnv({}).clientRedaction).toBe(true);
    expect(configFromEnv({ NEXUS_CLIENT_REDACTION: 'on' }).clientRedaction).toBe(true);
    expect(configFromEnv({ NEXUS_CLIENT_REDACTION: ' OFF ' }).clientRedaction).toBe(false);
    expect(() => configFromEnv({ NEXUS_CLIENT_REDACTION: 'no' })).toThrow(/on or off/);
  });
});
