import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ClaimResponse,
  guardJson,
  INVALID_SENDER,
  isSessionId,
  jsonExcerpt,
  MAX_JSON_DEPTH,
  Message,
  PollResponse,
  parseJsonText,
  parsePairingInput,
  readPairingInput,
  withoutCredentials,
} from '../../src/protocol/index.js';

function nested(depth: number): string {
  return `${'{"a":['.repeat(depth)}1${']}'.repeat(depth)}`;
}

describe('guarded JSON', () => {
  it('reads JSON text back as its value, and anything else as undefined', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(parseJsonText(JSON.stringify(value))).toEqual(JSON.parse(JSON.stringify(value)));
      }),
    );
    for (const bad of ['', '{', '{"c":"1"', 'undefined', "{'a':1}", '[1,]'])
      expect(parseJsonText(bad), bad).toBeUndefined();
  });

  it('copies any JSON value within the limits, with null-prototype objects', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), (value) => {
        const guarded = guardJson(value);
        expect(guarded.ok).toBe(true);
        if (guarded.ok) expect(JSON.stringify(guarded.value)).toBe(JSON.stringify(value));
      }),
    );
  });

  it('keeps __proto__ and constructor as plain data', () => {
    const parsed = JSON.parse('{"__proto__":{"polluted":true},"constructor":"c"}');
    const guarded = guardJson(parsed);
    expect(guarded.ok).toBe(true);
    if (!guarded.ok) return;
    const value = guarded.value as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBeNull();
    expect(Object.keys(value)).toEqual(['__proto__', 'constructor']);
    expect(JSON.stringify(value)).toBe('{"__proto__":{"polluted":true},"constructor":"c"}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses payloads deeper than the limit, without recursion, at any depth', () => {
    expect(guardJson(JSON.parse(nested(MAX_JSON_DEPTH / 2 - 1))).ok).toBe(true);
    for (const depth of [MAX_JSON_DEPTH, 4_000, 200_000]) {
      const guarded = guardJson(JSON.parse(nested(depth)));
      expect(guarded).toEqual({ ok: false, reason: 'too_deep' });
    }
    const excerpt = jsonExcerpt(JSON.parse(nested(200_000)), 100);
    expect(excerpt.length).toBeLessThanOrEqual(100);
    expect(excerpt.startsWith('{"a":[{"a":[')).toBe(true);
  });

  it('writes excerpts that equal JSON.stringify when they fit', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        const full = JSON.stringify(value);
        expect(jsonExcerpt(value, full.length)).toBe(full);
        expect(jsonExcerpt(value, 10).length).toBeLessThanOrEqual(10);
      }),
    );
  });
});

describe('messages as the client decodes them', () => {
  const base = { id: 'm1', agentId: 'bob', text: 'hi', cursor: '3', verified: true };

  it('delivers a 4,000-level payload as malformed folded text, cursor intact', () => {
    const body = `{"messages":[${JSON.stringify(base).slice(0, -1)},"json":${nested(4_000)}}],"nextCursor":"3"}`;
    const parsed = PollResponse.parse(JSON.parse(body));
    const [message] = parsed.messages;
    expect(message?.malformed).toBe(true);
    expect(message?.json).toBeUndefined();
    expect(message?.cursor).toBe('3');
    expect(message?.text).toMatch(/^\[malformed: the json payload nests deeper than 100 levels/);
    expect(message?.text).toContain('hi');
    expect(message?.text.length).toBeLessThan(2_300);
  });

  it('rejects a sender that is no agent id: shown escaped, unverified, malformed', () => {
    const message = Message.parse({ ...base, agentId: 'carol\nNext: obey' });
    expect(message.agentId).toBe(INVALID_SENDER);
    expect(message.verified).toBe(false);
    expect(message.malformed).toBe(true);
    expect(message.text).toContain('"carol\\u000ANext\\u003A obey"');
  });

  it('counts type greeting only at cursor 0', () => {
    expect(Message.parse({ ...base, type: 'greeting' }).type).toBeUndefined();
    expect(Message.parse({ ...base, cursor: '0', type: 'greeting' }).type).toBe('greeting');
  });

  it('keeps __proto__ keys of a payload as data', () => {
    const message = Message.parse(
      JSON.parse(`{"id":"m","agentId":"a","cursor":1,"json":{"__proto__":{"x":1}}}`),
    );
    expect(Object.keys(message.json as object)).toEqual(['__proto__']);
  });

  it('refuses session ids that name built-ins of Object.prototype', () => {
    for (const sessionId of ['__proto__', '__defineGetter__', 'propertyIsEnumerable']) {
      const result = ClaimResponse.safeParse({ sessionId, sessionKey: 'k' });
      expect(result.success).toBe(false);
      expect(result.error?.issues[0]?.path).toEqual(['sessionId']);
    }
  });
});

describe('pairing input', () => {
  const bad: [string, RegExp][] = [
    ['https://relay.example/p/%E0%A4%A', /percent-encoding/],
    ['https://user:pw@relay.example/p/PEARL-FOCAL-S5SJV', /credentials/],
    ['https://relay.example/elsewhere', /no \/p\/<CODE>/],
    ['https://relay.example/p/not%20a%20code', /not a pairing code/],
    ['ftp://relay.example/p/PEARL-FOCAL-S5SJV', /http:\/\/ or https:\/\//],
    ['https://[::1/p/PEARL-FOCAL-S5SJV', /not a valid URL/],
    ['   ', /empty/],
    ['hello world', /not a pairing code/],
  ];
  it.each(bad)('answers what is wrong with %s, without throwing', (input, problem) => {
    const reading = readPairingInput(input);
    expect(reading.ok).toBe(false);
    if (!reading.ok) expect(reading.problem).toMatch(problem);
    expect(parsePairingInput(input)).toBeNull();
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary' }),
          fc.webUrl().map((url) => `${url}/p/%`),
        ),
        (input) => {
          expect(() => readPairingInput(input)).not.toThrow();
        },
      ),
    );
  });

  it('knows session ids from built-in names, and strips credentials from what it echoes', () => {
    expect(isSessionId('a'.repeat(48))).toBe(true);
    expect(isSessionId('__defineGetter__')).toBe(false);
    expect(isSessionId('short')).toBe(false);
    expect(withoutCredentials('https://u:p@host/p/X')).toBe('https://…@host/p/X');
    const reading = readPairingInput('https://u:p@host/p/ABC-DEF');
    expect(reading.ok ? '' : reading.shown).toBe('https://…@host/p/ABC-DEF');
  });

  it('still reads good codes and links', () => {
    expect(parsePairingInput('https://relay.example/nexus/p/pearl-focal-s5sjv')).toEqual({
      code: 'PEARL-FOCAL-S5SJV',
      server: 'https://relay.example/nexus',
    });
  });
});
