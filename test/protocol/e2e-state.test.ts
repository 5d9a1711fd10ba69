import { describe, expect, it } from 'vitest';
import {
  checkReplay,
  E2E_NOTICE_GREETING,
  E2eKey,
  E2eSessionRecord,
  e2eStatus,
  newE2eRecord,
  recordKey,
  replayStateOf,
  takeSeq,
  withConfirmedMember,
  withKey,
  withReplayState,
} from '../../src/protocol/e2e/index.js';
import { redactSecrets } from '../../src/protocol/index.js';

describe('E2eSessionRecord', () => {
  it('round-trips key, seq, replay windows and members through JSON and the schema', () => {
    const key = E2eKey.generate();
    let record = newE2eRecord(key);
    record = takeSeq(takeSeq(record).record).record;
    let replay = replayStateOf(record);
    replay = checkReplay(replay, '__proto__', 3).state;
    replay = checkReplay(replay, 'bob', 1).state;
    record = withConfirmedMember(
      withConfirmedMember(withReplayState(record, replay), 'bob'),
      'bob',
    );
    const stored = E2eSessionRecord.parse(JSON.parse(JSON.stringify(record)));
    expect(stored).toEqual(record);
    expect(stored.seq).toBe(2);
    expect(takeSeq(stored).seq).toBe(3);
    expect(recordKey(stored)?.keyId()).toEqual(key.keyId());
    expect(checkReplay(replayStateOf(stored), '__proto__', 3).verdict).toEqual({ replayed: true });
    expect(checkReplay(replayStateOf(stored), 'bob', 1).verdict).toEqual({ replayed: true });
    expect(e2eStatus(stored)).toEqual({
      enabled: true,
      version: 1,
      key: 'present',
      confirmed_members: ['bob'],
    });
  });

  it('shows a missing key until one is attached, and never the key itself', () => {
    const missing = newE2eRecord(undefined);
    expect(recordKey(missing)).toBeUndefined();
    expect(e2eStatus(missing).key).toBe('missing');
    const key = E2eKey.generate();
    const attached = withKey(missing, key);
    expect(e2eStatus(attached).key).toBe('present');
    expect(JSON.stringify(e2eStatus(attached))).not.toContain(attached.secret);
  });

  it('rejects damaged records', () => {
    const good = newE2eRecord(E2eKey.generate());
    for (const bad of [
      { ...good, version: 2 },
      { ...good, secret: 'short' },
      { ...good, seq: -1 },
      { ...good, replay: [{ agentId: 'a', highest: 1, seen: 'AAAA' }] },
    ]) {
      expect(E2eSessionRecord.safeParse(bad).success).toBe(false);
    }
  });

  it('has a notice greeting the relay redaction leaves alone', () => {
    expect(redactSecrets(E2E_NOTICE_GREETING)).toEqual({ text: E2E_NOTICE_GREETING, count: 0 });
  });
});
