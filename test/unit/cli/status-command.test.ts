import { describe, expect, it } from 'vitest';
import { runStatusCommand, statusUrl } from '../../../src/cli/status-command.ts';
import { lane, NOW, snapshot } from '../status/snapshot-fixtures.ts';
import { captureIo, fakeFetch, refusedFetch } from './cli-fakes.ts';

const deps = (fetchImpl: typeof fetch) => ({ fetch: fetchImpl, now: () => NOW.getTime() });

describe('status command', () => {
  it('prints the summary and exits 0 for a healthy forwarder', async () => {
    const io = captureIo();

    const code = await runStatusCommand([], io, deps(fakeFetch(snapshot())));

    expect(code).toBe(0);
    expect(io.out()).toContain('k8s-audit-forwarder 1.2.3');
    expect(io.out().trimEnd().endsWith('OK')).toBe(true);
  });

  it('exits 1 when a sink is failing, also with --json, which prints the document', async () => {
    const failing = snapshot({
      sinks: [{ name: 'es', type: 'elasticsearch', healthy: true, lane: lane({ state: 'failing' }) }],
    });
    const io = captureIo();

    const code = await runStatusCommand(['--json'], io, deps(fakeFetch(failing)));

    expect(code).toBe(1);
    expect(JSON.parse(io.out())).toEqual(failing);
  });

  it('colours only a terminal without NO_COLOR', async () => {
    const tty = captureIo({ isTTY: true });
    const noColor = captureIo({ isTTY: true, env: { NO_COLOR: '1' } });

    await runStatusCommand([], tty, deps(fakeFetch(snapshot())));
    await runStatusCommand([], noColor, deps(fakeFetch(snapshot())));

    expect(tty.out()).toContain('\u001b[32mOK\u001b[0m');
    expect(noColor.out()).not.toContain('\u001b[');
  });

  it('exits 2 with the reason when the daemon cannot be reached or answers something else', async () => {
    const refused = captureIo();
    const notJson = captureIo();
    const error = captureIo();

    expect(await runStatusCommand(['--url', 'http://127.0.0.1:9'], refused, deps(refusedFetch))).toBe(2);
    expect(await runStatusCommand([], notJson, deps(fakeFetch('<html>')))).toBe(2);
    expect(await runStatusCommand([], error, deps(fakeFetch({ error: 'x' }, 500)))).toBe(2);
    expect(refused.err()).toContain('cannot read http://127.0.0.1:9/status: connect ECONNREFUSED');
    expect(notJson.err()).toContain('the answer is not JSON');
    expect(error.err()).toContain('HTTP 500');
  });

  it('exits 2 on wrong usage', async () => {
    expect(await runStatusCommand(['--bogus'], captureIo(), deps(refusedFetch))).toBe(2);
    expect(await runStatusCommand(['--url', 'ftp://x'], captureIo(), deps(refusedFetch))).toBe(2);
    expect(await runStatusCommand(['--timeout-ms', '0'], captureIo(), deps(refusedFetch))).toBe(2);
  });

  it('accepts the base address or the /status URL', () => {
    expect(statusUrl('http://127.0.0.1:9880').href).toBe('http://127.0.0.1:9880/status');
    expect(statusUrl('http://10.0.0.1:9880/').href).toBe('http://10.0.0.1:9880/status');
    expect(statusUrl('http://10.0.0.1:9880/status').href).toBe('http://10.0.0.1:9880/status');
  });
});
