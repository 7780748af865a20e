/**
 * toa-bpf doctor in the lab: each broken setup gets its own one-line
 * diagnosis naming the broken link (not attached; the app outside the
 * attached cgroup; the LIP not trusted; the dialect not accepted; the
 * director not writing; a VIP missing on the director), and a working
 * setup says every link works, on both sides. Clients keep connecting
 * through the VIP while the doctor watches.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADDR, createLab, labUnavailable, REPO_ROOT, type Lab, type Role } from '../lab/index.js';

const why = labUnavailable();
const WAIT = '2500';

describe.skipIf(why)(`toa-bpf doctor${why ? ` (skipped: ${why})` : ''}`, () => {
  let lab: Lab;
  let outsidePid = 0;

  /** Runs the doctor in role's namespace (clients keep connecting meanwhile); its JSON, text and exit code. */
  async function doctor(args: string[], role: Role = 'realserver') {
    const json = await lab.toaBpf(['doctor', '--wait', WAIT, '--json', ...args], role);
    const text = await lab.toaBpf(['doctor', '--wait', WAIT, ...args], role);
    expect(json.stderr).toBe('');
    return { code: json.code, report: JSON.parse(json.stdout), text: text.stdout, textCode: text.code };
  }

  /** The broken link's name and the one diagnosis line of the text output. */
  function diagnosis(r: Awaited<ReturnType<typeof doctor>>): string {
    expect(r.code).toBe(1);
    expect(r.textCode).toBe(1);
    const lines = r.text.split('\n').filter((l) => l.startsWith('diagnosis: '));
    expect(lines).toHaveLength(1);
    // The text run watched another window: the same link, the detail may name the other family's LIP.
    expect(lines[0].startsWith(`diagnosis: ${r.report.broken}: `)).toBe(true);
    return r.report.broken;
  }

  beforeAll(async () => {
    lab = await createLab();
    // The clients open hundreds of connections a second: no TIME_WAIT or conntrack pile-up between tests.
    await lab.tuneForLoad();
    await lab.startPeerEcho({ host: '::', port: 80 });
    // The same server outside the lab's cgroup (as an app started by another service would be).
    const p = lab.spawn('realserver', [process.execPath, '--import', 'tsx', join(REPO_ROOT, 'test/lab/servers/peer-echo.ts'), '--host', '::', '--port', '81']);
    await p.waitFor(/^listening /m);
    outsidePid = p.child.pid!;
    // Clients connecting to both VIPs for the whole file, flowing before the first test.
    const client = join(REPO_ROOT, 'test/lab/clients/http-client.ts');
    for (const url of [`http://${ADDR.vip4}:80/`, `http://[${ADDR.vip6}]:80/`]) {
      lab.spawn('client', [process.execPath, '--import', 'tsx', client, '--url', url, '--count', '10000000', '--timeout', '2000']);
    }
    await lab.attachWriter({ ports: [80] });
    for (let i = 0; i < 120 && (await lab.writerStatus()).counters.flow_new < 20; i++) await new Promise((r) => setTimeout(r, 500));
    expect((await lab.writerStatus()).counters.flow_new).toBeGreaterThanOrEqual(20);
  }, 180_000);

  afterAll(async () => {
    await lab?.destroy();
  });

  it('not attached', async () => {
    const r = await doctor(['--port', '80']);
    expect(diagnosis(r)).toBe('attached');
    expect(r.report.fix).toMatch(/toa-bpf realserver attach --trust/);
  });

  it('the director not writing', async () => {
    await lab.detachWriter();
    await lab.attachRealserver();
    const r = await doctor(['--port', '80']);
    expect(diagnosis(r)).toBe('toa');
    expect(r.report.diagnosis).toMatch(new RegExp(`from (${ADDR.lip4}|${ADDR.lip6}).* carry no TOA: the director is not writing it`));
  });

  it('a working setup: every link, and --pid finds the same', async () => {
    await lab.attachWriter({ ports: [80] });
    const r = await doctor(['--port', '80']);
    expect(r.report.checks.filter((c: any) => c.status !== 'ok')).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.report).toMatchObject({ ok: true, broken: null, diagnosis: 'every link works' });
    expect(r.text).toMatch(/^diagnosis: every link works$/m);
    const pid = r.report.checks.find((c: any) => c.name === 'app').detail.match(/^pid (\d+)/)[1];
    const byPid = await doctor(['--pid', pid]);
    expect(byPid.report.ok).toBe(true);
  });

  it('the director side: a VIP not configured, then a working writer', async () => {
    const missing = await doctor(['--vip', `${ADDR.vip4}:8080`], 'director');
    expect(diagnosis(missing)).toBe('vip');
    expect(missing.report.fix).toContain(`--vip ${ADDR.vip4}:8080`);
    const good = await doctor(['--vip', `[${ADDR.vip6}]:80`], 'director');
    expect(good.report.checks.filter((c: any) => c.status !== "ok"), JSON.stringify(good.report)).toEqual([]);
    expect(good.code).toBe(0);
  });

  it('the director side: a program ahead of the writer at ingress is reported; attaching again puts the writer first', async () => {
    // Something else (another tool's tcx program) at the head of the clients' device, ahead of the writer.
    const pin = join(lab.pinDir, 'tcx-ahead');
    await lab.execOk('director', [join(REPO_ROOT, 'test/tools/build/tcx-ahead'), 'cli0', pin]);
    try {
      expect((await lab.writerStatus()).ingress_ahead).toBe(1);
      const text = await lab.toaBpf(['director', 'status'], 'director');
      expect(text.stdout).toContain('WARNING: 1 tcx program(s) run at ingress before the writer');
      const r = await doctor(['--vip', `${ADDR.vip4}:80`], 'director');
      expect(diagnosis(r)).toBe('hook');
      expect(r.report.diagnosis).toContain('1 tcx program(s) run at ingress of cli0 before the writer');
      // A fresh attach goes to the head of the chain, the other program behind it.
      await lab.detachWriter();
      await lab.attachWriter({ ports: [80] });
      expect((await lab.writerStatus()).ingress_ahead).toBe(0);
      const good = await doctor(['--vip', `${ADDR.vip4}:80`], 'director');
      expect(good.code, JSON.stringify(good.report)).toBe(0);
    } finally {
      rmSync(pin, { force: true });
    }
  });

  it('the app outside the attached cgroup', async () => {
    const r = await doctor(['--pid', String(outsidePid)]);
    expect(diagnosis(r)).toBe('cgroup');
    expect(r.report.diagnosis).toMatch(new RegExp(`pid ${outsidePid} is in cgroup .*, outside the attached /${lab.id}`));
  });

  it('the LIP not trusted', async () => {
    await lab.attachRealserver({ trust: ['192.0.2.99/32', '2001:db8:200::99/128'] });
    const r = await doctor(['--port', '80']);
    expect(diagnosis(r)).toBe('trusted');
    expect(r.report.diagnosis).toMatch(new RegExp(`TOA comes from (${ADDR.lip4}|${ADDR.lip6}), which is not in the trust list`));
    expect(r.report.fix).toMatch(/--trust (192\.0\.2\.1\/32|2001:db8:200::1\/128)/);
  });

  it('the dialect not accepted', async () => {
    await lab.attachRealserver();
    await lab.attachWriter({ ports: [80], dialects: ['v4-200', 'cdn6'] });
    const r = await doctor(['--port', '80']);
    expect(diagnosis(r)).toBe('dialect');
    expect(r.report.diagnosis).toMatch(/TOA arrives in dialect (v4-200 cdn6|v4-200|cdn6), not accepted here \(accepted: v4 v6 v6-ali\)/);
  });
});
