import { afterEach, describe, expect, it } from 'vitest';
import { redactJson, redactSecrets } from '../../src/relay/index.js';
import { TestRelay } from './helpers.js';

// Assembled at run time so secret scanners do not mistake the fixtures for leaked credentials.
const alnum = (n: number): string => 'a1B2c3D4e5F6g7H8i9J0kLmNoPqRsTuVwXyZ'.repeat(8).slice(0, n);
const FIXTURES = {
  aws: `AKIA${'IOSFODNN7EXAMPLE'}`,
  awsSession: `ASIA${'Q3EGT4VXYZ2ABCDE'}`,
  githubClassic: `gh${'p_'}${alnum(36)}`,
  githubApp: `gh${'s_'}${alnum(36)}`,
  githubFine: `github${'_pat_'}11ABCDEFG0${alnum(60)}`,
  gitlab: `gl${'pat-'}${alnum(20)}`,
  openai: `sk-${'proj-'}${alnum(48)}`,
  openaiLegacy: `sk-${alnum(48)}`,
  anthropic: `sk-${'ant-api03-'}${alnum(80)}`,
  slack: `xo${'xb-'}123456789012-1234567890123-${alnum(24)}`,
  jwt: `eyJ${'hbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9'}.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U`,
  pem: `-----BEGIN ${'RSA PRIVATE'} KEY-----\nMIIEowIBAAKCAQEA1c7+9z5Pad7OejecsQ0bu3aumlTPRUVNMZFQ0vYt\nx4mTlw5wTbBNA7nYGDVn9bCTyDUdAQ==\n-----END RSA PRIVATE KEY-----`,
  bearer: alnum(40),
};

describe('redactSecrets', () => {
  const cases: [string, string, string, string][] = [
    [
      'AWS access key',
      `key id ${FIXTURES.aws} ok`,
      'key id [REDACTED:aws_access_key] ok',
      FIXTURES.aws,
    ],
    [
      'AWS session key',
      `id=${FIXTURES.awsSession}`,
      'id=[REDACTED:aws_access_key]',
      FIXTURES.awsSession,
    ],
    [
      'GitHub classic token',
      `use ${FIXTURES.githubClassic}.`,
      'use [REDACTED:github_token].',
      FIXTURES.githubClassic,
    ],
    [
      'GitHub app token',
      `(${FIXTURES.githubApp})`,
      '([REDACTED:github_token])',
      FIXTURES.githubApp,
    ],
    [
      'GitHub fine-grained token',
      FIXTURES.githubFine,
      '[REDACTED:github_token]',
      FIXTURES.githubFine,
    ],
    [
      'GitLab token',
      `gitlab ${FIXTURES.gitlab}`,
      'gitlab [REDACTED:gitlab_token]',
      FIXTURES.gitlab,
    ],
    ['OpenAI project key', `"${FIXTURES.openai}"`, '"[REDACTED:api_key]"', FIXTURES.openai],
    ['OpenAI key', `key ${FIXTURES.openaiLegacy}`, 'key [REDACTED:api_key]', FIXTURES.openaiLegacy],
    ['Anthropic key', `x ${FIXTURES.anthropic} y`, 'x [REDACTED:api_key] y', FIXTURES.anthropic],
    ['Slack token', `slack: ${FIXTURES.slack}`, 'slack: [REDACTED:slack_token]', FIXTURES.slack],
    ['JWT', `jwt ${FIXTURES.jwt} end`, 'jwt [REDACTED:jwt] end', FIXTURES.jwt],
    [
      'PEM private key',
      `key:\n${FIXTURES.pem}\nthanks`,
      'key:\n[REDACTED:private_key]\nthanks',
      'MIIEowIBAAKCAQEA',
    ],
    ['unterminated PEM block', `${FIXTURES.pem.slice(0, 60)}`, '[REDACTED:private_key]', 'MIIEow'],
    [
      'Bearer token',
      `Authorization: Bearer ${FIXTURES.bearer}`,
      'Authorization: Bearer [REDACTED:bearer_token]',
      FIXTURES.bearer,
    ],
    [
      'password=',
      'login with password=hunter2 now',
      'login with password=[REDACTED:password] now',
      'hunter2',
    ],
    ['password:', 'password: hunter2', 'password: [REDACTED:password]', 'hunter2'],
    ['env password', 'DB_PASSWORD=correcthorse', 'DB_PASSWORD=[REDACTED:password]', 'correcthorse'],
    [
      'JSON-style password',
      '{"password": "hunter two"}',
      '{"password": "[REDACTED:password]"}',
      'hunter two',
    ],
    ['secret:', 'client_secret: 9f8e7d6c5b4a', 'client_secret: [REDACTED:secret]', '9f8e7d6c5b4a'],
    [
      'api_key=',
      'https://x.test/cb?api_key=abc123&page=2',
      'https://x.test/cb?api_key=[REDACTED:api_key]&page=2',
      'abc123',
    ],
    ['token=', 'token=deadbeef', 'token=[REDACTED:token]', 'deadbeef'],
    ['camelCase token:', "accessToken: 'Zm9vYmFy'", "accessToken: '[REDACTED:token]'", 'Zm9vYmFy'],
    [
      'URL credentials',
      'postgres://app:s3cr3t-pw@db:5432/app',
      'postgres://app:[REDACTED:password]@db:5432/app',
      's3cr3t-pw',
    ],
  ];

  it.each(cases)('redacts a %s', (_name, input, expected, leaked) => {
    const result = redactSecrets(input);
    expect(result.text).toBe(expected);
    expect(result.text).not.toContain(leaked);
    expect(result.count).toBe(1);
  });

  it('counts several secrets and never redacts a marker twice', () => {
    const input = `OPENAI_API_KEY=${FIXTURES.openai}\ntoken: ${FIXTURES.jwt}\nBearer ${FIXTURES.jwt}\nand ${FIXTURES.aws}`;
    const result = redactSecrets(input);
    expect(result.text).toBe(
      'OPENAI_API_KEY=[REDACTED:api_key]\ntoken: [REDACTED:jwt]\nBearer [REDACTED:jwt]\nand [REDACTED:aws_access_key]',
    );
    expect(result.count).toBe(4);
    expect(redactSecrets(result.text)).toEqual({ text: result.text, count: 0 });
  });

  it('leaves ordinary prose alone', () => {
    const prose = `My password is long, and nobody will guess it. The secret of success is showing up
every day; ask for a token of appreciation, not a raise. We need to brush up on our sk-ills
(and our desk-side manners). The bearer of this letter is a friend of the family.
Password: required. Tokens: three per player. Here is the secret: patience. Token: a coin.
The key to the door is under the mat, and the API key lives in your password manager, never here.
Authentication uses a token: see https://example.com/docs/auth for details.
Meeting at 10:30: bring notes. The ratio is 3:1. Set secret = true in the config to hide it.
Bearer bonds were popular once. Our risk-sharing, task-oriented team reviewed the eye-opening
report at 9:00 a.m.; e-mail: team@example.com. "Password" and "secret" are just words here.
A JWT starts with eyJ, and AWS key ids start with AKIA: neither is a secret on its own.
The password field: optional. My secret: I love cheese! Token-based auth is fine.`;
    const result = redactSecrets(prose);
    expect(result.text).toBe(prose);
    expect(result.count).toBe(0);
  });

  // A backtracking blow-up would hang here until the test times out.
  it('copes with long runs of identifier characters', () => {
    const hostile = `${'a-'.repeat(16_000)} password=${'x'.repeat(100)} ${'ab_'.repeat(10_000)}`;
    const result = redactSecrets(hostile);
    expect(result.count).toBe(1);
  });

  // Rules that ignore case must still fire however the text is cased, and ordinary prose
  // (no rule can match) must come back as the very same string.
  it('finds secrets in any case the rules accept; leaves plain prose as it was', () => {
    const upper = redactSecrets(`AUTHORIZATION: BEARER ${FIXTURES.bearer}`);
    expect(upper).toEqual({ text: 'AUTHORIZATION: BEARER [REDACTED:bearer_token]', count: 1 });
    const url = redactSecrets(`db at POSTGRES://admin:${alnum(12)}@db.internal`);
    expect(url).toEqual({
      text: 'db at POSTGRES://admin:[REDACTED:password]@db.internal',
      count: 1,
    });
    const assignment = redactSecrets(`DB_PASSWORD=${alnum(12)}`);
    expect(assignment).toEqual({ text: 'DB_PASSWORD=[REDACTED:password]', count: 1 });
    const prose = 'relay agent message cursor session poll wait reply '.repeat(3);
    expect(redactSecrets(prose)).toEqual({ text: prose, count: 0 });
  });
});

describe('redactJson', () => {
  it('redacts strings at any depth and values under secret-named keys', () => {
    const input = {
      config: { password: 'hunter2', retries: 3, notes: [`token=abc123def`, 'fine'] },
      apiKey: 'xyz',
      max_tokens: 100,
      token_count: '5',
      deep: [[{ text: `use ${FIXTURES.githubClassic}` }]],
      nothing: null,
    };
    const result = redactJson(input);
    expect(result.value).toEqual({
      config: {
        password: '[REDACTED:password]',
        retries: 3,
        notes: ['token=[REDACTED:token]', 'fine'],
      },
      apiKey: '[REDACTED:api_key]',
      max_tokens: 100,
      token_count: '5',
      deep: [[{ text: 'use [REDACTED:github_token]' }]],
      nothing: null,
    });
    expect(result.count).toBe(4);
  });

  it('keeps a __proto__ key as data', () => {
    const input = JSON.parse('{"__proto__": {"password": "x"}, "a": 1}') as unknown;
    const result = redactJson(input) as { value: Record<string, unknown>; count: number };
    expect(Object.getPrototypeOf(result.value)).toBe(Object.prototype);
    expect(JSON.stringify(result.value)).toBe(
      '{"__proto__":{"password":"[REDACTED:password]"},"a":1}',
    );
  });
});

describe('redaction on send', () => {
  let relay: TestRelay;
  afterEach(async () => {
    await relay?.close();
  });

  it('stores redacted text and json and reports how many secrets it replaced', async () => {
    relay = await TestRelay.start();
    const { sessionId, key } = await relay.sessionWithCreator('alice');
    const sent = await relay.send(
      sessionId,
      'alice',
      {
        text: `deploy with ${FIXTURES.githubClassic} and password=hunter2`,
        json: { env: { AWS_KEY: FIXTURES.aws }, list: [FIXTURES.slack, 'ok'] },
      },
      key,
    );
    expect(sent.redacted).toBe(4);
    const [message] = (await relay.poll(sessionId, 'alice')).messages;
    expect(message?.text).toBe(
      'deploy with [REDACTED:github_token] and password=[REDACTED:password]',
    );
    expect(message?.json).toEqual({
      env: { AWS_KEY: '[REDACTED:aws_access_key]' },
      list: ['[REDACTED:slack_token]', 'ok'],
    });
    const clean = await relay.send(sessionId, 'alice', { text: 'the secret of success' }, key);
    expect(clean.redacted).toBe(0);
  });

  it('redacts the greeting too', async () => {
    relay = await TestRelay.start();
    const { sessionId } = await relay.sessionWithCreator('alice', {
      greeting: `key ${FIXTURES.aws}`,
    });
    const joined = await relay.join(sessionId, 'bob');
    expect(joined.greeting).toBe('key [REDACTED:aws_access_key]');
  });
});
