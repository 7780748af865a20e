/**
 * Real servers in containers: the agent runs as deploy/ runs it (its
 * entrypoint deploy/container/agent.sh, in a container-like namespace with
 * the host's bpffs and a read-only cgroup2, holding only CAP_BPF,
 * CAP_NET_ADMIN and CAP_PERFMON) and attaches once for the host; an app in
 * a container (its own network namespace and a child cgroup, reached
 * through a DNAT on the real server from the host's address, as a NodePort
 * or a CNI does it) sees its clients of both families, the trust check
 * still on the director's LIP. The attachment outlives the agent.
 */
import { mkdirSync, mkdtempSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADDR, createLab, labUnavailable, Proc, REPO_ROOT, run, runOk, type Lab } from '../lab/index.js';
import { inCgroup } from '../lab/cgroup.js';
import { containerCgroupPath, containerInit, inContainer } from '../lab/container.js';
import { inNetns } from '../lab/run.js';
import { craft, ensureCraft, toaHex } from '../tools/craft.js';

const why = labUnavailable();
const AGENT = join(REPO_ROOT, 'deploy/container/agent.sh');
const CAPS = '-all,+bpf,+net_admin,+perfmon';
// The container's link on the real server: documentation ranges, apart from the lab's.
const CTR = { host4: '203.0.113.129', app4: '203.0.113.130', host6: '2001:db8:400::1', app6: '2001:db8:400::2' };

describe.skipIf(why)(`an app in a container, the agent in another${why ? ` (skipped: ${why})` : ''}`, () => {
  let lab: Lab;
  let appNs: string;
  let appCgroup: string;
  let app: Proc | undefined;
  let agent: Proc | undefined;
  let dir: string;

  const seen = async (vip: string): Promise<string> => {
    const [r] = await lab.httpClient(['--url', `http://${vip}:80/`]);
    expect(r.error).toBeUndefined();
    return r.body.remoteAddress;
  };
  const agentEnv = (): NodeJS.ProcessEnv => ({
    ...process.env,
    PATH: `${join(REPO_ROOT, 'bpf/build')}:${process.env.PATH}`,
    TOA_PIN_DIR: lab.pinDir,
    TOA_CONFIG: join(dir, 'realserver.conf'),
    TOA_RECHECK_SECONDS: '1',
  });
  const inAgentContainer = (argv: string[]): string[] =>
    inNetns(lab.ns.realserver, inContainer(['setpriv', `--bounding-set=${CAPS}`, '--inh-caps=-all', ...argv], { cgroupReadOnly: true }));
  const config = (trust: string[]): void =>
    writeFileSync(join(dir, 'realserver.conf'), `trust = ${trust.join(' ')}\ncgroup = ${containerCgroupPath(lab.cgroup.path)}\n`);

  beforeAll(async () => {
    ensureCraft();
    lab = await createLab();
    dir = mkdtempSync(join(tmpdir(), 'toa-agent-'));
    appNs = `${lab.id}-app`;
    const rs = lab.ns.realserver;
    await runOk(['ip', 'netns', 'add', appNs]);
    await runOk(['ip', '-n', rs, 'link', 'add', 'ctr0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', appNs]);
    await runOk(inNetns(rs, ['sh', '-ec', `ip addr add ${CTR.host4}/30 dev ctr0; ip addr add ${CTR.host6}/64 dev ctr0 nodad;
      ip link set ctr0 up; ethtool -K ctr0 tx off >/dev/null; sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1`]));
    await runOk(inNetns(appNs, ['sh', '-ec', `ip link set lo up; ip addr add ${CTR.app4}/30 dev eth0; ip addr add ${CTR.app6}/64 dev eth0 nodad;
      ip link set eth0 up; ethtool -K eth0 tx off >/dev/null; ip route add default via ${CTR.host4}; ip -6 route add default via ${CTR.host6}`]));
    // The real server's address and port 80 lead to the container's 8080, as a NodePort does.
    await runOk(inNetns(rs, ['nft', '-f', '-']), {
      input: `table inet toa_ctr {
  chain pre {
    type nat hook prerouting priority dstnat;
    ip daddr ${ADDR.rs4} tcp dport 80 dnat ip to ${CTR.app4}:8080
    ip6 daddr ${ADDR.rs6} tcp dport 80 dnat ip6 to [${CTR.app6}]:8080
  }
}
`,
    });
    appCgroup = join(lab.cgroup.path, 'app');
    mkdirSync(appCgroup);
    app = new Proc(inCgroup(appCgroup, inNetns(appNs, [process.execPath, '--import', 'tsx', join(REPO_ROOT, 'test/lab/servers/peer-echo.ts'), '--host', '::', '--port', '8080'])));
    await app.waitFor(/^listening /m);
    await lab.attachWriter({ ports: [80] });
  });

  afterAll(async () => {
    await agent?.stop('SIGKILL');
    await app?.stop('SIGKILL');
    if (appCgroup) rmdirSync(appCgroup);
    if (appNs) await run(['ip', 'netns', 'del', appNs]);
    await lab?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('before the agent: the app sees the LIP', async () => {
    expect(await seen(ADDR.vip4)).toBe(`::ffff:${ADDR.lip4}`);
  });

  it('the agent with one capability fewer cannot attach, and says so', async () => {
    config([`${ADDR.lip4}/32`, `${ADDR.lip6}/128`]);
    for (const caps of ['-all,+bpf,+net_admin', '-all,+bpf,+perfmon', '-all,+net_admin,+perfmon']) {
      const r = await run(inNetns(lab.ns.realserver, inContainer(['setpriv', `--bounding-set=${caps}`, '--inh-caps=-all', join(REPO_ROOT, 'bpf/build/toa-bpf'), 'realserver', 'attach', '--config', join(dir, 'realserver.conf')])), { env: agentEnv() });
      expect(r.code, caps).toBe(1);
      expect(r.stderr).toMatch(/toa-bpf realserver: /);
    }
    expect((await lab.realserverStatus()).attached).toBe(false);
  });

  it('the agent attaches once for the host: the containerised app sees clients of both families', async () => {
    agent = new Proc(inAgentContainer(['sh', AGENT]), { env: agentEnv() });
    await agent.waitFor(/^realserver: attached to cgroup \/sys\/fs\/cgroup\//m);
    expect(await seen(ADDR.vip4)).toBe(`::ffff:${ADDR.client4}`);
    expect(await seen(`[${ADDR.vip6}]`)).toBe(ADDR.client6);
  });

  it('the trust check is still on the LIP: a stranger forging TOA to the host address is seen as itself', async () => {
    for (const [dst, self, forged] of [
      [ADDR.rs4, `::ffff:${ADDR.stranger4}`, toaHex('v4', '198.51.100.77', 4242)],
      [ADDR.rs6, ADDR.stranger6, toaHex('v6', '2001:db8:100::77', 4242)],
    ]) {
      const r = await craft(lab, 'stranger', dst, 80, { ackOpts: forged });
      expect(r.code, r.stderr).toBe(0);
      expect(r.body.remoteAddress).toBe(self);
    }
    expect((await lab.realserverStatus()).counters.untrusted).toBeGreaterThanOrEqual(2);
  });

  it('a configuration change is applied in place by the agent', async () => {
    config([`${ADDR.lip4}/32`]);
    for (let i = 0; i < 100 && (await lab.realserverStatus()).trust.length !== 1; i++) await new Promise((r) => setTimeout(r, 100));
    expect((await lab.realserverStatus()).trust).toEqual([`${ADDR.lip4}/32`]);
    expect(await seen(`[${ADDR.vip6}]`)).toBe(ADDR.lip6);
    expect(await seen(ADDR.vip4)).toBe(`::ffff:${ADDR.client4}`);
  });

  it('the agent (PID 1 of its container) stops at once on SIGTERM, and the attachment outlives it', async () => {
    process.kill(containerInit(agent!.child.pid!), 'SIGTERM');
    const t0 = Date.now();
    expect(await agent!.wait()).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect((await lab.realserverStatus()).attached).toBe(true);
    expect(await seen(ADDR.vip4)).toBe(`::ffff:${ADDR.client4}`);
  });
});
