/**
 * Every tool's input and output schema, as hosts receive them from tools/list, checked for the
 * patterns that single-type schema dialects (Gemini) reject and that models get wrong.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningRelay } from '../../src/relay/index.js';
import { type Harness, startServer } from '../helpers/mcp.js';
import { useRelay } from '../helpers/relay.js';
import { type Json, schemaProblems } from '../helpers/schema-problems.js';

describe('tool schemas', () => {
  let relay: RunningRelay;
  let server: Harness;
  beforeAll(async () => {
    relay = await useRelay();
    server = await startServer({ relayUrl: relay.url });
  });
  afterAll(async () => {
    await server.close();
  });

  it('use no type arrays, bare {} or fake bounds, in inputs and outputs alike', async () => {
    const { tools } = await server.client.listTools();
    expect(tools.length).toBeGreaterThan(5);
    const problems = tools.flatMap((tool) => [
      ...schemaProblems(tool.inputSchema as Json, `${tool.name}.input`),
      ...(tool.outputSchema
        ? schemaProblems(tool.outputSchema as Json, `${tool.name}.output`)
        : [`${tool.name}: no output schema`]),
    ]);
    expect(problems).toEqual([]);
    const input = (name: string) =>
      tools.find((tool) => tool.name === name)?.inputSchema.properties ?? {};
    expect(input('poll_messages').after).toMatchObject({
      anyOf: [{ type: 'string' }, { type: 'number', minimum: 0 }],
    });
    expect(input('create_session').ttl_seconds).toMatchObject({ minimum: 60, maximum: 86400 });
    expect(input('wait_for_messages').timeout_seconds).toMatchObject({ minimum: 1, maximum: 50 });
  });

  it('the checker catches each pattern', () => {
    expect(schemaProblems({ type: ['string', 'null'] }, 'x')).toEqual([
      'x: type array ["string","null"]',
    ]);
    expect(schemaProblems({ description: 'anything' }, 'x')).toEqual([
      'x: bare {} schema (say what the value is)',
    ]);
    expect(
      schemaProblems(
        {
          type: 'object',
          properties: { n: { type: 'integer', exclusiveMinimum: 0, maximum: 9007199254740991 } },
        },
        'x.input',
      ),
    ).toEqual([
      'x.input.n: maximum 9007199254740991 is no real bound',
      'x.input.n: exclusive bound (give the inclusive one)',
      'x.input.n: an input number without a minimum',
    ]);
    expect(schemaProblems({ type: 'object', additionalProperties: {} }, 'x')).toEqual([
      'x.additionalProperties: bare {} schema (use true or a schema)',
    ]);
  });
});
