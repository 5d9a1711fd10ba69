import { describe, expect, it } from 'vitest';
import {
  E2E_NOTICE_GREETING,
  E2eKey,
  E2eSessionRecord,
  e2eStatus,
  guardMessage,
  guardOf,
  newE2eRecord,
  recordKey,
  takeSeq,
  withConfirmedMember,
  withGuard,
  withKey,
} from '../../src/protocol/e2e/index.js';
import { redactSecrets } from '../../src/protocol/index.js';

describe('E2eSessionRecord', () => {
  it('round-trips key, seq, replay windows and members through JSON and the schema', () => {
    const key = E2eKey.generate();
    let record = newE2eRecord(key);
    record = takeSeq(takeSeq(record).record).record;
    let guard = guardOf(record);
    guard = guardMessage(guard, { cursor: '4', sender: '__proto__', seq: 3 }).guard;
    guard = guardMessage(guard, { cursor: '6', sender: 'bob', seq: 1 }).guard;
    record = withConfirmedMember(withConfirmedMember(withGuard(record, guard), 'bob'), 'bob');
    const stored = E2eSessionRecord.parse(JSON.parse(JSON.stringify(record)));
    expect(stored).toEqual(record);
    expect(stored.seq).toBe(2);
    expect(takeSeq(stored).seq).toBe(3);
    expect(recordKey(stored)?.keyId()).toEqual(key.keyId());
    expect(guardOf(stored)).toEqual(guard);
    expect(
      guardMessage(guardOf(stored), { cursor: '4', sender: '__proto__', seq: 3 }).verdict,
    ).toEqual({
      replayed: false,
      gapBefore: 2,
    });
    expect(
      guardMessage(guardOf(stored), { cursor: '7', sender: '__proto__', seq: 3 }).verdict,
    ).toEqual({
      replayed: true,
    });
    expect(guardMessage(guardOf(stored), { cursor: '8', sender: 'bob', seq: 1 }).verdict).toEqual({
      replayed: true,
    });
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
      { ...good, guard: { ...good.guard, senders: [{ agentId: 'a', highest: 1, seen: 'AAAA' }] } },
      { ...good, guard: { ...good.guard, through: '-1' } },
    ]) {
      expect(E2eSessionRecord.safeParse(bad).success).toBe(false);
    }
  });

  it('has a notice greeting the relay redaction leaves alone', () => {
    expect(redactSecrets(E2E_NOTICE_GREETING)).toEqual({ text: E2E_NOTICE_GREETING, count: 0 });
  });
});
