/**
 * The systemd units in deploy/systemd and `attach --config`: the units pass
 * systemd-analyze verify, and their own ExecStart, ExecReload and ExecStop
 * lines (read from the unit files, with the built binary and a lab
 * configuration in place of /usr/sbin and /etc/toa) run in the lab against
 * a real attachment: start attaches, reload changes the live attachment
 * while clients keep seeing themselves, stop detaches.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADDR, createLab, labUnavailable, REPO_ROOT, TOA_BPF, type Lab, type Role } from '../lab/index.js';

const why = labUnavailable();
const UNITS = join(REPO_ROOT, 'deploy/systemd');
const analyze = spawnSync('systemd-analyze', ['--version']).status === 0;

type Verb = 'ExecStart' | 'ExecReload' | 'ExecStop';

/** A unit's command line for verb, split as systemd does for these simple lines. */
function unitCommand(unit: string, verb: Verb): string[] {
  const line = readFileSync(join(UNITS, unit), 'utf8').split('\n').find((l) => l.startsWith(`${verb}=`));
  if (!line) throw new Error(`${unit} has no ${verb}`);
  return line.slice(verb.length + 1).trim().split(/\s+/);
}

describe.skipIf(!analyze)(`systemd units${analyze ? '' : ' (skipped: no systemd-analyze)'}`, () => {
  it('systemd-analyze verify: no errors, no warnings', () => {
    // verify wants each ExecStart binary to exist: copies name the built one.
    const dir = mkdtempSync(join(tmpdir(), 'toa-units-'));
    try {
      const files = ['toa-director.service', 'toa-realserver.service'].map((u) => {
        const f = join(dir, u);
        writeFileSync(f, readFileSync(join(UNITS, u), 'utf8').replaceAll('/usr/sbin/toa-bpf', TOA_BPF));
        return f;
      });
      const r = spawnSync('systemd-analyze', ['verify', '--man=no', ...files], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each(['toa-director.service', 'toa-realserver.service'])('%s: start, reload and stop use the configuration under /etc/toa/', (unit) => {
    const role = unit.includes('director') ? 'director' : 'realserver';
    for (const verb of ['ExecStart', 'ExecReload', 'ExecStop'] as Verb[]) {
      const cmd = unitCommand(unit, verb);
      expect(cmd).toEqual(['/usr/sbin/toa-bpf', role, verb === 'ExecStop' ? 'detach' : 'attach', '--config', `/etc/toa/${role}.conf`]);
    }
  });
});

describe.skipIf(why || !analyze)(`the units' commands in the lab${why ? ` (skipped: ${why})` : ''}`, () => {
  let lab: Lab;
  let dir: string;

  const conf = (role: string, text: string): void => writeFileSync(join(dir, `${role}.conf`), text);
  /** Runs a unit's verb line in its role's namespace, with the built binary and the lab's configuration. */
  async function unit(name: 'director' | 'realserver', verb: Verb) {
    const argv = unitCommand(`toa-${name}.service`, verb).map((a) =>
      a === '/usr/sbin/toa-bpf' ? TOA_BPF : a.replace(/^\/etc\/toa\//, `${dir}/`),
    );
    const r = await lab.exec((name === 'director' ? 'director' : 'realserver') as Role, argv);
    expect(r.code, r.stderr).toBe(0);
    return r;
  }
  const seen = async (vip: string): Promise<string> => (await lab.httpClient(['--url', `http://${vip}:80/`]))[0].body.remoteAddress;

  beforeAll(async () => {
    lab = await createLab();
    dir = mkdtempSync(join(tmpdir(), 'toa-etc-'));
    await lab.startPeerEcho({ host: '::', port: 80 });
  });

  afterAll(async () => {
    await lab?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('bad configuration: exit 2, the file and line named, nothing attached', async () => {
    conf('director', `pin-dir = ${lab.pinDir}\ndev = cli0\nvip = ${ADDR.vip4}:80 ${ADDR.vip4}:99999\n`);
    const r = await lab.exec('director', [TOA_BPF, 'director', 'attach', '--config', join(dir, 'director.conf')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`toa-bpf director: ${dir}/director.conf:3: bad --vip '${ADDR.vip4}:99999'`);
    conf('realserver', `trust = ${ADDR.lip4}\ntrusted = ${ADDR.lip6}\n`);
    const rs = await lab.exec('realserver', [TOA_BPF, 'realserver', 'attach', '--config', join(dir, 'realserver.conf')]);
    expect(rs.code).toBe(2);
    expect(rs.stderr).toMatch(new RegExp(`${dir}/realserver.conf:2: unknown key 'trusted' \\(cgroup, trust, trust-any, accept, records-group, pin-dir\\)`));
    expect((await lab.writerStatus()).attached).toBe(false);
    expect((await lab.realserverStatus()).attached).toBe(false);
  });

  it('start: both roles attached as configured; clients of both families seen', async () => {
    conf('director', `# lab director\npin-dir = ${lab.pinDir}\ndev = cli0\nvip = ${ADDR.vip4}:80   # IPv4\nvip = [${ADDR.vip6}]:80\n`);
    conf('realserver', `pin-dir = ${lab.pinDir}\ncgroup = ${lab.cgroup.path}\ntrust = ${ADDR.lip4}/32 ${ADDR.lip6}/128\naccept = v4 v6\n`);
    await unit('director', 'ExecStart');
    await unit('realserver', 'ExecStart');
    const d = await lab.writerStatus();
    expect(d.vips.sort()).toEqual([`${ADDR.vip4}:80`, `[${ADDR.vip6}]:80`].sort());
    const rs = await lab.realserverStatus();
    expect(rs.trust).toEqual([`${ADDR.lip4}/32`, `${ADDR.lip6}/128`]);
    expect(rs.accept).toEqual(['v4', 'v6']);
    expect(await seen(ADDR.vip4)).toBe(`::ffff:${ADDR.client4}`);
    expect(await seen(`[${ADDR.vip6}]`)).toBe(ADDR.client6);
  });

  it('reload: the live attachment changes in place, and every request during the reloads sees its client', async () => {
    const during = lab.httpClient(['--url', `http://${ADDR.vip4}:80/`, '--count', '300']);
    for (let i = 0; i < 3; i++) {
      await unit('director', 'ExecReload');
      await unit('realserver', 'ExecReload');
    }
    const results = await during;
    expect(results).toHaveLength(300);
    expect(results.filter((r) => r.body?.remoteAddress !== `::ffff:${ADDR.client4}`)).toEqual([]);

    // A changed configuration: the IPv6 VIP dropped on the director, the IPv6 LIP no longer trusted.
    conf('director', `pin-dir = ${lab.pinDir}\ndev = cli0\nvip = ${ADDR.vip4}:80\n`);
    conf('realserver', `pin-dir = ${lab.pinDir}\ncgroup = ${lab.cgroup.path}\ntrust = ${ADDR.lip4}/32\n`);
    await unit('director', 'ExecReload');
    const rs = await unit('realserver', 'ExecReload');
    expect(rs.stdout).toMatch(/^realserver: updated on cgroup/);
    expect((await lab.writerStatus()).vips).toEqual([`${ADDR.vip4}:80`]);
    expect((await lab.realserverStatus()).trust).toEqual([`${ADDR.lip4}/32`]);
    expect(await seen(ADDR.vip4)).toBe(`::ffff:${ADDR.client4}`);
    expect(await seen(`[${ADDR.vip6}]`)).toBe(ADDR.lip6);
  });

  it('stop: both detached, nothing pinned, the app sees the LIP again', async () => {
    await unit('director', 'ExecStop');
    await unit('realserver', 'ExecStop');
    expect((await lab.writerStatus()).attached).toBe(false);
    expect((await lab.realserverStatus()).attached).toBe(false);
    expect(await seen(ADDR.vip4)).toBe(`::ffff:${ADDR.lip4}`);
  });
});
