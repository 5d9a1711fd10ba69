import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { E2eKey, openEnvelope, parseE2eFragment } from '../../src/protocol/e2e/index.js';
import { computeVectors, VECTOR_SECRET, type Vectors } from './e2e-vectors.js';

const DOC = join(import.meta.dirname, '../../docs/e2e-v1.md');
const BEGIN = '<!-- vectors:begin -->';
const END = '<!-- vectors:end -->';

function docVectors(): Vectors {
  const text = readFileSync(DOC, 'utf8');
  const block = text.slice(text.indexOf(BEGIN) + BEGIN.length, text.indexOf(END));
  return JSON.parse(block.replace(/^\s*```json\n/, '').replace(/```\s*$/, '')) as Vectors;
}

describe('docs/e2e-v1.md test vectors', () => {
  // `WRITE_E2E_VECTORS=1 npx vitest run test/protocol/e2e-vectors.test.ts` regenerates the block.
  if (process.env.WRITE_E2E_VECTORS === '1') {
    const text = readFileSync(DOC, 'utf8');
    const block = `${BEGIN}\n\`\`\`json\n${JSON.stringify(computeVectors(), null, 2)}\n\`\`\`\n${END}`;
    writeFileSync(
      DOC,
      text.slice(0, text.indexOf(BEGIN)) + block + text.slice(text.indexOf(END) + END.length),
    );
  }

  it('are what this implementation computes', () => {
    expect(docVectors()).toEqual(computeVectors());
  });

  it('decrypt back to their plaintexts with the key from the published fragment', () => {
    const published = docVectors();
    const key = parseE2eFragment(published.fragment);
    expect(key?.secret()).toEqual(VECTOR_SECRET);
    expect(published.vectors).toHaveLength(4);
    for (const vector of published.vectors) {
      expect(vector.envelope).toMatch(/^nxe1\.[a-z2-7]+$/);
      expect(
        openEnvelope({
          text: vector.envelope,
          sessionId: published.sessionId,
          senderAgentId: vector.sender,
          key,
        }),
      ).toEqual({ ok: true, kind: vector.kind, seq: vector.seq, payload: vector.payload });
    }
  });

  it('fail for a different secret or another sender', () => {
    const [first] = docVectors().vectors;
    if (!first) throw new Error('no vectors');
    const other = E2eKey.fromSecret(Buffer.alloc(32, 1));
    const base = {
      text: first.envelope,
      sessionId: docVectors().sessionId,
      senderAgentId: first.sender,
    };
    expect(openEnvelope({ ...base, key: other })).toEqual({ ok: false, error: 'wrong_key' });
    expect(
      openEnvelope({
        ...base,
        senderAgentId: 'agent-mallory',
        key: E2eKey.fromSecret(VECTOR_SECRET),
      }),
    ).toEqual({
      ok: false,
      error: 'tampered',
    });
  });
});
