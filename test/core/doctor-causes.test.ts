/** doctor says why a relay cannot be reached, and what to do about it. */
import { describe, expect, it } from 'vitest';
import { runDoctor } from '../../src/commands/doctor.js';
import { UNREACHABLE_HINTS } from '../../src/core/errors.js';
import { cleanup } from '../helpers/cleanup.js';
import { makeCore } from '../helpers/core.js';
import { closedPort, startFaultyServer } from '../helpers/faulty-server.js';
import { useRelay } from '../helpers/relay.js';

async function doctorOn(url: string, timeoutMs = 5_000) {
  const report = await runDoctor(makeCore(url, { timeoutMs }).manager);
  expect(report.ok).toBe(false);
  expect(report.hints).toEqual([...UNREACHABLE_HINTS]);
  expect(report.hints?.join(' ')).toContain('nexus-messaging-mcp relay');
  return report;
}

describe('doctor on an unreachable relay', () => {
  it('names a refused connection', async () => {
    const report = await doctorOn(`http://127.0.0.1:${await closedPort()}`);
    expect(report.servers[0]).toMatchObject({ reachable: false, cause: 'refused' });
    expect(report.problems[0]).toMatch(/is not reachable: the connection was refused/);
  });

  it('names a host name that does not resolve', async () => {
    const report = await doctorOn('http://nexus-relay.invalid');
    expect(report.servers[0]).toMatchObject({ reachable: false, cause: 'dns' });
    expect(report.problems[0]).toContain('does not resolve (DNS)');
  });

  it('names a failed TLS handshake (https:// to a plain http port)', async () => {
    const relay = await useRelay();
    const report = await doctorOn(relay.url.replace('http://', 'https://'));
    expect(report.servers[0]).toMatchObject({ reachable: false, cause: 'tls' });
    expect(report.problems[0]).toContain('TLS handshake failed');
  });

  it('names a relay that accepts and never answers', async () => {
    const silent = await startFaultyServer(() => undefined);
    cleanup(() => silent.close());
    const report = await doctorOn(silent.url, 200);
    expect(report.servers[0]).toMatchObject({ reachable: false, cause: 'timeout' });
  });

  it('gives no hints when every relay answers', async () => {
    const relay = await useRelay();
    const report = await runDoctor(makeCore(relay.url).manager);
    expect(report.ok).toBe(true);
    expect(report.hints).toBeUndefined();
  });
});
