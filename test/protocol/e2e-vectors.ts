/** The test vectors published in docs/e2e-v1.md, computed from fixed inputs. */
import {
  buildAad,
  E2eKey,
  type E2eKind,
  type E2ePayload,
  encodeHeader,
  encodePayload,
  formatE2eFragment,
  pad,
  sealEnvelope,
} from '../../src/protocol/e2e/index.js';

export const VECTOR_SECRET = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
export const VECTOR_SESSION_ID = '0123456789abcdef0123456789abcdef0123456789abcdef';

interface VectorInput {
  name: string;
  sender: string;
  kind: E2eKind;
  seq: number;
  salt: Buffer;
  payload: E2ePayload;
}

const salt = (first: number): Buffer =>
  Buffer.from(Array.from({ length: 16 }, (_, i) => first + i));

const INPUTS: VectorInput[] = [
  {
    name: 'text message',
    sender: 'agent-alice',
    kind: 'message',
    seq: 1,
    salt: salt(0xa0),
    payload: { text: 'Hello, Bob! 👋' },
  },
  {
    name: 'text and json',
    sender: 'agent-bob',
    kind: 'message',
    seq: 7,
    salt: salt(0xb0),
    payload: { text: 'the plan', json: { steps: ['a', 'b'], done: false } },
  },
  {
    name: 'greeting',
    sender: 'agent-alice',
    kind: 'greeting',
    seq: 2,
    salt: salt(0xc0),
    payload: { text: 'Hi, I am Alice.' },
  },
  { name: 'hello', sender: 'agent-bob', kind: 'hello', seq: 1, salt: salt(0xd0), payload: {} },
];

export interface Vector extends Omit<VectorInput, 'salt'> {
  salt: string;
  kEnc: string;
  commit: string;
  header: string;
  aad: string;
  paddedBytes: number;
  envelope: string;
}

export interface Vectors {
  secret: string;
  fragment: string;
  kRoot: string;
  keyId: string;
  sessionId: string;
  vectors: Vector[];
}

export function computeVectors(): Vectors {
  const key = E2eKey.fromSecret(VECTOR_SECRET);
  return {
    secret: VECTOR_SECRET.toString('hex'),
    fragment: `#${formatE2eFragment(key)}`,
    kRoot: key.rootKey().toString('hex'),
    keyId: key.keyId().toString('hex'),
    sessionId: VECTOR_SESSION_ID,
    vectors: INPUTS.map((input) => {
      const { encKey, commit } = key.messageKeys(input.salt);
      const header = encodeHeader({
        version: 1,
        kind: input.kind,
        keyId: key.keyId(),
        seq: input.seq,
        salt: input.salt,
      });
      return {
        ...input,
        salt: input.salt.toString('hex'),
        kEnc: encKey.toString('hex'),
        commit: commit.toString('hex'),
        header: header.toString('hex'),
        aad: buildAad(VECTOR_SESSION_ID, input.sender, header).toString('hex'),
        paddedBytes: pad(encodePayload(input.payload, input.kind)).length,
        envelope: sealEnvelope({
          key,
          sessionId: VECTOR_SESSION_ID,
          senderAgentId: input.sender,
          kind: input.kind,
          seq: input.seq,
          payload: input.payload,
          salt: input.salt,
        }),
      };
    }),
  };
}
