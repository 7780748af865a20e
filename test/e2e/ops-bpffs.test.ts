/**
 * attach exits 0 only when the attachment outlives the command. Where the
 * pin directory's bpffs would be private to the command's own mount
 * namespace (ip netns exec, unshare -m without the host's bpffs, a container
 * without it), both roles refuse with one line naming the cause and the fix;
 * in a container-like namespace with the host's bpffs and cgroup2 mounted
 * in, both attach, and the attachment serves clients after the command is gone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADDR, createLab, labUnavailable, TOA_BPF, type Lab } from '../lab/index.js';
import { containerCgroupPath, inContainer } from '../lab/container.js';
import { run } from '../lab/run.js';

const why = labUnavailable();

describe.skipIf(why)(`attach outlives the command, or fails saying why${why ? ` (skipped: ${why})` : ''}`, () => {
  let lab: Lab;
  const vips = ['--vip', `${ADDR.vip4}:80`, '--vip', `[${ADDR.vip6}]:80`];
  const trust = ['--trust', `${ADDR.lip4}/32`, '--trust', `${ADDR.lip6}/128`];
  const env = (): NodeJS.ProcessEnv => ({ ...process.env, TOA_PIN_DIR: lab.pinDir });

  /** Both roles seen from the host, after the command has exited. */
  async function seenFromHost() {
    return { director: await lab.writerStatus(), realserver: await lab.realserverStatus() };
  }

  beforeAll(async () => {
    lab = await createLab();
    await lab.startPeerEcho({ host: '::', port: 80 });
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  it.each([
    ['ip netns exec', (ns: string, argv: string[]) => ['ip', 'netns', 'exec', ns, ...argv], /not on the host's bpffs: this command runs in a mount namespace of its own \(ip netns exec, unshare -m\).*use nsenter --net=\/run\/netns\/NAME rather than ip netns exec, or mount the host's bpffs at \/sys\/fs\/bpf/],
    ['unshare -m without the host bpffs', (ns: string, argv: string[]) => ['nsenter', `--net=/run/netns/${ns}`, 'unshare', '-m', 'sh', '-ec', 'umount /sys/fs/bpf; exec "$@"', 'x', ...argv], /not on the host's bpffs: this command runs in a mount namespace of its own/],
    ['a container without the host bpffs', (ns: string, argv: string[]) => ['nsenter', `--net=/run/netns/${ns}`, ...inContainer(argv, { hostBpffs: false })], /not on a bpffs in this container.*mount the host's \/sys\/fs\/bpf into it \(a hostPath volume/],
  ])('%s: both roles exit 1 with one line, nothing attached', async (_name, wrap, message) => {
    const dir = await run(wrap(lab.ns.director, [TOA_BPF, 'director', 'attach', '--dev', 'cli0', ...vips]), { env: env() });
    expect(dir.code, dir.stderr).toBe(1);
    expect(dir.stderr).toMatch(message);
    expect(dir.stderr.trim().split('\n')).toHaveLength(1);
    const rs = await run(wrap(lab.ns.realserver, [TOA_BPF, 'realserver', 'attach', ...trust]), { env: env() });
    expect(rs.code, rs.stderr).toBe(1);
    expect(rs.stderr).toMatch(message);
    expect(rs.stderr.trim().split('\n')).toHaveLength(1);
    const host = await seenFromHost();
    expect(host.director.attached).toBe(false);
    expect(host.realserver.attached).toBe(false);
    // status is refused there too: a private bpffs would answer "not attached" for a host that is.
    const st = await run(wrap(lab.ns.director, [TOA_BPF, 'director', 'status']), { env: env() });
    expect(st.code).toBe(1);
    expect(st.stderr).toMatch(message);
  });

  it('unshare -m that still sees the host bpffs works: the pins are the host\'s', async () => {
    const r = await run(['nsenter', `--net=/run/netns/${lab.ns.director}`, 'unshare', '-m', TOA_BPF, 'director', 'attach', '--dev', 'cli0', ...vips], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    expect((await lab.writerStatus()).filters).toEqual({ ingress: true, egress: true });
    await lab.detachWriter();
  });

  it('a container-like namespace with the host bpffs and cgroup2: both roles attach, and serve clients after the command exits', async () => {
    const dir = await run(['nsenter', `--net=/run/netns/${lab.ns.director}`, ...inContainer([TOA_BPF, 'director', 'attach', '--dev', 'cli0', ...vips])], { env: env() });
    expect(dir.code, dir.stderr).toBe(0);
    const cg = containerCgroupPath(lab.cgroup.path);
    const rs = await run(['nsenter', `--net=/run/netns/${lab.ns.realserver}`, ...inContainer([TOA_BPF, 'realserver', 'attach', '--cgroup', cg, ...trust])], { env: env() });
    expect(rs.code, rs.stderr).toBe(0);
    expect(rs.stdout).toContain(`attached to cgroup ${cg}`);

    const host = await seenFromHost();
    expect(host.director.filters).toEqual({ ingress: true, egress: true });
    expect(host.realserver.attached).toBe(true);
    for (const [vip, client] of [
      [ADDR.vip4, `::ffff:${ADDR.client4}`],
      [`[${ADDR.vip6}]`, ADDR.client6],
    ]) {
      const [r] = await lab.httpClient(['--url', `http://${vip}:80/`]);
      expect(r.error).toBeUndefined();
      expect(r.body.remoteAddress).toBe(client);
    }
    await lab.detachRealserver();
    await lab.detachWriter();
  });

  it('director detach after a tcx or tc attach prints nothing (no libbpf noise for the normal case)', async () => {
    for (const hook of ['auto', 'tc']) {
      await lab.attachWriter({ extraArgs: ['--hook', hook] });
      const r = await lab.toaBpf(['director', 'detach', '--dev', 'cli0']);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
    }
  });
});
