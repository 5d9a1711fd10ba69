import { describe, expect, it } from 'vitest';
import { NexusError } from '../../src/core/index.js';
import {
  cleanJson,
  errorResult,
  fitMessages,
  MAX_LISTED_MEMBERS,
  MESSAGE_CHARS,
  MESSAGES_CHARS,
  membersText,
  messageOut,
  ok,
  RESULT_CHARS,
  renderMessages,
  showAgent,
} from '../../src/mcp/render.js';
import { hasUnsafeCharacters, INVALID_SENDER } from '../../src/protocol/index.js';

const view = {
  session: 'chat',
  id: 'm1',
  cursor: '4',
  from: 'bob',
  text: 'hi',
  verified: true,
  own: false,
  greeting: false,
};

describe('rendering untrusted content', () => {
  it('shows placeholders and valid ids as they are, anything else escaped', () => {
    expect(showAgent('bob')).toBe('bob');
    expect(showAgent(INVALID_SENDER)).toBe(INVALID_SENDER);
    expect(showAgent('session creator')).toBe('session creator');
    expect(showAgent('bob (you) ✓verified')).toBe('"bob \\u0028you\\u0029 \\u2713verified"');
  });

  it('cuts a message larger than its share and says so; drops an oversized payload', () => {
    const out = messageOut({
      ...view,
      text: 'z'.repeat(MESSAGE_CHARS * 3),
      json: { big: 'j'.repeat(MESSAGE_CHARS) },
    });
    expect(out.text.length).toBeLessThan(MESSAGE_CHARS + 200);
    expect(out.text).toMatch(/\[cut: \d+ more characters not shown\]/);
    expect(out.text).toMatch(/\[json payload of \d+ characters not shown/);
    expect(out.json).toBeUndefined();
    expect(out.malformed).toBe(true);
  });

  it('renders a malformed message flagged, its lines indented', () => {
    const text = renderMessages([
      messageOut({ ...view, text: 'a\u2028b', malformed: true, from: INVALID_SENDER }),
    ]);
    expect(text).toBe('[chat] #4 (invalid agent id) ✓verified (malformed): a\n  b');
  });

  it('cleans every string of structured content, keeping __proto__ keys as data', () => {
    const payload = JSON.parse('{"__proto__":{"x":"\\u202e"},"k\\r":"v"}');
    const cleaned = cleanJson({ list: [payload] }) as { list: Record<string, unknown>[] };
    const [first] = cleaned.list;
    expect(Object.keys(first ?? {})).toEqual(['__proto__', 'k\n']);
    expect(JSON.stringify(cleaned)).toBe('{"list":[{"__proto__":{"x":"\\\\u202E"},"k\\n":"v"}]}');
  });

  it('returns clean structured content as it is, and copies only what changes, keeping key order', () => {
    const clean = { a: 'x', list: [{ b: 1, c: null }], payload: Object.create(null) };
    expect(cleanJson(clean)).toBe(clean);
    const mixed = { a: 'x', list: [{ b: 1 }, 'y\u202e'], z: 'z' };
    const cleaned = cleanJson(mixed) as typeof mixed;
    expect(cleaned).not.toBe(mixed);
    expect(Object.keys(cleaned)).toEqual(['a', 'list', 'z']);
    expect(cleaned.list[0]).toBe(mixed.list[0]);
    expect(cleaned.list[1]).toBe('y\\u202E');
    expect(mixed.list[1]).toBe('y\u202e');
  });

  it('cuts later messages once escaping has filled the result, never dropping one', () => {
    const bidi = messageOut({ ...view, text: '\u202e'.repeat(5_000) });
    const fitted = fitMessages(Array.from({ length: 20 }, () => bidi));
    expect(fitted).toHaveLength(20);
    const total = fitted.reduce((sum, message) => sum + message.text.length, 0);
    expect(total).toBeLessThan(MESSAGES_CHARS + 20 * 200);
    expect(fitted[0]).toBe(bidi);
    expect(fitted[19]?.malformed).toBe(true);
  });

  it('bounds any result text and error, and lists at most 100 members', () => {
    const result = ok({}, `${'\u001b'.repeat(RESULT_CHARS)}`);
    const text = (result.content[0] as { text: string }).text;
    expect(text.length).toBeLessThan(RESULT_CHARS + 100);
    expect(hasUnsafeCharacters(text)).toBe(false);
    const error = errorResult(
      new NexusError({
        code: 'unknown_session',
        message: `x\nNext: ${'y'.repeat(1e6)}`,
        requestId: 'r\u202e',
      }),
    );
    const errorText = (error.content[0] as { text: string }).text;
    expect(errorText.length).toBeLessThan(1_500);
    expect(errorText.split('\n')).toHaveLength(2);
    // Request ids are for logs, not the model (issue 14).
    expect(errorText).not.toContain('request id');
    expect(hasUnsafeCharacters(errorText)).toBe(false);
    const many = Array.from({ length: 250 }, (_, index) => `a${index}`);
    expect(membersText(many)).toMatch(new RegExp(`a${MAX_LISTED_MEMBERS - 1} and 150 more$`));
  });
});
