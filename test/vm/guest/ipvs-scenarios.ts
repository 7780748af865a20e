/**
 * Runs INSIDE the VM guest: stock IPVS as operators run FullNAT with it, and
 * the TOA writer in front. IPVS in NAT (masquerading) mode does the dnat, an
 * nft SNAT to the LIP pool does the rest (net.ipv4.vs.conntrack=1 hands IPVS's
 * connections to conntrack so the SNAT applies), toa-bpf's writer sits on the
 * client-facing device. Both real-server paths, both families; then the same
 * with keepalived managing IPVS from examples/ipvs-keepalived.
 * Records { ok, seconds, detail | error } per scenario in $RESULTS/ipvs.json.
 *
 * Usage (in the guest): tsx test/vm/guest/ipvs-scenarios.ts
 * Env: TOA_KO (toa.ko for this kernel), RESULTS.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { insmod, KO, loaded, rmmod } from './common.js';
import { IPVS_SCENARIOS } from './ipvs-names.js';
import { ADDR, createLab, extraClient4, extraClient6, LIP_POOL, REPO_ROOT, type ClientResult, type Lab, type Proc } from '../../lab/index.js';

const RESULTS = process.env.RESULTS ?? '/tmp';
const EXTRA_CLIENTS = 32;
const CONNS = 64;
const EXAMPLE = join(REPO_ROOT, 'examples/ipvs-keepalived');
const ROUTED_SYN = join(REPO_ROOT, 'test/tools/routed-syn.py');
/** Node's start under TCG, with other guests on the same cores, can take far longer than the lab's 20 s. */
const STARTUP_MS = 180_000;

type Detail = Record<string, unknown>;
const results: Record<string, { ok: boolean; seconds: number; detail?: Detail; error?: string }> = {};

function save(): void {
  writeFileSync(join(RESULTS, 'ipvs.json'), JSON.stringify(results, null, 1));
}

async function scenario(name: string, fn: () => Promise<Detail | void>): Promise<void> {
  if (!IPVS_SCENARIOS.includes(name)) throw new Error(`scenario "${name}" is missing from ipvs-names.ts`);
  const t0 = Date.now();
  process.stdout.write(`--- ${name}\n`);
  try {
    const detail = ((await fn()) ?? {}) as Detail;
    results[name] = { ok: true, seconds: (Date.now() - t0) / 1000, detail };
  } catch (e) {
    results[name] = { ok: false, seconds: (Date.now() - t0) / 1000, error: (e as Error).stack ?? String(e) };
    process.stdout.write(`FAILED ${name}: ${(e as Error).message}\n`);
  }
  save();
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const onDual = (a: string): string => (a.includes(':') ? a : `::ffff:${a}`);

/** Connections IPVS has scheduled so far, per virtual service (ipvsadm -Ln --stats --exact). */
async function ipvsConns(lab: Lab): Promise<Record<string, number>> {
  const out = await lab.execOk('director', ['ipvsadm', '-Ln', '--stats', '--exact']);
  const conns: Record<string, number> = {};
  for (const m of out.matchAll(/^TCP\s+(\S+)\s+(\d+)/gm)) conns[m[1]] = Number(m[2]);
  return conns;
}

/** The IPVS table: virtual service -> its real servers with their forwarding method. */
async function ipvsTable(lab: Lab): Promise<Record<string, string[]>> {
  const out = await lab.execOk('director', ['ipvsadm', '-Ln']);
  const table: Record<string, string[]> = {};
  let vs = '';
  for (const line of out.split('\n')) {
    const v = /^TCP\s+(\S+)/.exec(line);
    if (v) table[(vs = v[1])] = [];
    const r = /^\s+->\s+(\S+)\s+(\S+)/.exec(line);
    if (r && vs && r[1] !== 'RemoteAddress:Port') table[vs].push(`${r[1]} ${r[2]}`);
  }
  return table;
}

async function until<T>(what: string, f: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 180_000): Promise<T> {
  const t0 = Date.now();
  let v = await f();
  while (!ok(v)) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(v)}`);
    await sleep(500);
    v = await f();
  }
  return v;
}

const VS4 = `${ADDR.vip4}:80`;
const VS6 = `[${ADDR.vip6}]:80`;
const RS4 = `${ADDR.rs4}:80 Masq`;
const RS6 = `[${ADDR.rs6}]:80 Masq`;

const locals4 = [ADDR.client4, ...Array.from({ length: EXTRA_CLIENTS }, (_, i) => extraClient4(i))];
const locals6 = [ADDR.client6, ...Array.from({ length: EXTRA_CLIENTS }, (_, i) => extraClient6(i))];

/**
 * CONNS connections per family from many client addresses through the VIP:
 * every answer names its own client (address and port), or with no reader a
 * LIP of the pool; the SYNs at the real server came from every LIP of the
 * pool. Returns the spread.
 */
async function clientsSeeThemselves(lab: Lab, want: 'client' | 'lip'): Promise<Detail> {
  const detail: Detail = {};
  for (const [fam, url, locals, pool] of [
    ['v4', `http://${ADDR.vip4}/`, locals4, LIP_POOL.v4],
    ['v6', `http://[${ADDR.vip6}]/`, locals6, LIP_POOL.v6],
  ] as const) {
    // One family at a time: keepalived's health checks of the other one go through the SNAT as well.
    const cap = await lab.capture('realserver', 'eth0', `${fam === 'v4' ? 'ip' : 'ip6'} and tcp dst port 80`);
    const rs = await lab.httpClient(['--url', url, '--count', String(CONNS), '--concurrency', '8', '--close', ...locals.flatMap((l) => ['--local', l])], 'client', 600_000);
    const segs = await cap.stop();
    assert.equal(rs.length, CONNS);
    const wrong = (r: ClientResult): boolean =>
      !!r.error ||
      (want === 'client'
        ? r.body?.remoteAddress !== onDual(r.localAddress!) || r.body?.remotePort !== r.localPort
        : !(pool as readonly string[]).map(onDual).includes(r.body?.remoteAddress));
    const bad = rs.filter(wrong);
    assert.equal(bad.length, 0, `${fam}: ${bad.length} of ${rs.length} wrong, e.g. ${JSON.stringify(bad.slice(0, 3))}`);
    const perLip: Record<string, number> = {};
    for (const s of segs.filter((s) => s.flags.syn && !s.flags.ack)) perLip[s.src] = (perLip[s.src] ?? 0) + 1;
    assert.deepEqual(Object.keys(perLip).sort(), [...pool].sort(), `${fam}: SYNs at the real server came from ${JSON.stringify(perLip)}`);
    detail[fam] = { connections: rs.length, perLip };
  }
  return detail;
}

/**
 * IPVS carried new connections on both services since `before` (up to n: a
 * client port reused while its old IPVS entry lingers reuses that entry
 * without counting it again, so Conns may count fewer than connections).
 * Before 6.2 the counters ipvsadm shows are refreshed by the estimator timer
 * every 2 s, so a read right after the last connection may not show it yet.
 */
async function assertIpvsCarried(lab: Lab, before: Record<string, number>, n: number): Promise<Record<string, number>> {
  const grew = (after: Record<string, number>, vs: string): boolean => (after[vs] ?? 0) > (before[vs] ?? 0);
  const after = await until('the IPVS counters', () => ipvsConns(lab), (a) => grew(a, VS4) && grew(a, VS6), 8_000).catch(() => ipvsConns(lab));
  for (const vs of [VS4, VS6]) assert.ok(grew(after, vs), `IPVS ${vs}: ${before[vs]} -> ${after[vs]} connections (${n} made, waited 8 s for the counters)`);
  return after;
}

async function main(): Promise<void> {
  assert.ok(existsSync(KO), `TOA_KO=${KO} does not exist`);
  if (loaded()) rmmod();

  // Part one: IPVS set up by hand with ipvsadm.
  const lab = await createLab({ lipPool: true, extraClients: EXTRA_CLIENTS });
  try {
    await scenario('ipvsadm: NAT-mode services for IPv4 and IPv6, SNAT to the LIP pool, vs.conntrack=1, the writer on cli0', async () => {
      await lab.setNat('snat');
      await lab.execOk('director', ['sysctl', '-qw', 'net.ipv4.vs.conntrack=1']);
      for (const [vs, rs] of [[VS4, `${ADDR.rs4}:80`], [VS6, `[${ADDR.rs6}]:80`]]) {
        await lab.execOk('director', ['ipvsadm', '-A', '-t', vs, '-s', 'rr']);
        await lab.execOk('director', ['ipvsadm', '-a', '-t', vs, '-r', rs, '-m']);
      }
      await lab.attachWriter({ ports: [80] });
      const table = await ipvsTable(lab);
      assert.deepEqual(table, { [VS4]: [RS4], [VS6]: [RS6] });
      return { table };
    });
    await lab.startPeerEcho({ port: 80, timeoutMs: STARTUP_MS });

    await scenario('without a reader the real server sees a LIP of the pool, through IPVS (IPv4 and IPv6)', async () => {
      const before = await ipvsConns(lab);
      const d = await clientsSeeThemselves(lab, 'lip');
      return { ...d, ipvs: await assertIpvsCarried(lab, before, CONNS) };
    });

    await scenario('eBPF real server: IPv4 and IPv6 clients see themselves, spread over the LIP pool', async () => {
      await lab.attachRealserver(); // trusts the pool's prefixes
      try {
        const before = await ipvsConns(lab);
        const d = await clientsSeeThemselves(lab, 'client');
        return { ...d, ipvs: await assertIpvsCarried(lab, before, CONNS), counters: (await lab.realserverStatus()).counters };
      } finally {
        await lab.detachRealserver();
      }
    });

    await scenario('toa.ko: IPv4 and IPv6 clients see themselves, spread over the LIP pool', async () => {
      const r = insmod(`trust=${LIP_POOL.trust.join(',')}`);
      assert.equal(r.code, 0, `insmod: ${r.out}`);
      try {
        const before = await ipvsConns(lab);
        const d = await clientsSeeThemselves(lab, 'client');
        return { ...d, ipvs: await assertIpvsCarried(lab, before, CONNS) };
      } finally {
        rmmod();
      }
    });
  } finally {
    await lab.destroy();
  }

  // Part two: keepalived manages IPVS, from the example's files as they are.
  const lab2 = await createLab({ lipPool: true, extraClients: EXTRA_CLIENTS });
  let keepalived: Proc | undefined;
  try {
    const lab = lab2;
    // The example brings its own SNAT; the lab's nft FullNAT would take the VIP's packets before IPVS.
    await lab.execOk('director', ['nft', 'delete', 'table', 'inet', 'toa_lab']);
    const run = mkdtempSync('/tmp/keepalived-');
    let echo: Proc | undefined;

    await scenario('keepalived (examples/ipvs-keepalived): builds the IPVS table, real servers in once their TCP check passes', async () => {
      assert.deepEqual(await ipvsTable(lab), {});
      keepalived = lab.spawn('director', [
        join(EXAMPLE, 'director.sh'), '--dont-fork', '--log-console', '--log-detail', '--check',
        `--pid=${run}/keepalived.pid`, `--checkers_pid=${run}/checkers.pid`,
      ], { env: { CLIENT_DEV: 'cli0', PATH: `${join(REPO_ROOT, 'bpf/build')}:${process.env.PATH}` } });
      // alpha: no real server until its first check passes, and nothing listens yet.
      const empty = await until('keepalived to add the virtual services', () => ipvsTable(lab), (t) => !!t[VS4] && !!t[VS6]);
      assert.deepEqual(empty, { [VS4]: [], [VS6]: [] }, keepalived.stderr);
      echo = await lab.startPeerEcho({ port: 80, timeoutMs: STARTUP_MS });
      const table = await until('the TCP checks to pass', () => ipvsTable(lab), (t) => t[VS4]?.length === 1 && t[VS6]?.length === 1);
      assert.deepEqual(table, { [VS4]: [RS4], [VS6]: [RS6] });
      assert.equal((await lab.writerStatus()).filters.ingress, true);
      const conntrack = (await lab.execOk('director', ['sysctl', '-n', 'net.ipv4.vs.conntrack'])).trim();
      assert.equal(conntrack, '1');
      return { empty, table };
    });
    if (!results[IPVS_SCENARIOS[4]].ok) throw new Error(`keepalived did not come up:\n${keepalived?.stdout}\n${keepalived?.stderr}`);

    await scenario('keepalived: IPv4 and IPv6 clients see themselves through its IPVS', async () => {
      await lab.attachRealserver();
      const before = await ipvsConns(lab);
      const d = await clientsSeeThemselves(lab, 'client');
      return { ...d, ipvs: await assertIpvsCarried(lab, before, CONNS) };
    });

    await scenario(IPVS_SCENARIOS[6], async () => {
      const sysctl = async (k: string): Promise<string> => (await lab.execOk('director', ['sysctl', '-n', k])).trim();
      assert.equal(await sysctl('net.ipv4.conf.all.accept_source_route'), '0', 'director.sh turns IPv4 source routes off');
      // A director that honours source routes anyway (IPv4 LSRR, IPv6 segment routing): the guard alone must hold.
      await lab.execOk('director', ['sysctl', '-qw', 'net.ipv4.conf.all.accept_source_route=1', 'net.ipv4.conf.rs0.accept_source_route=1',
        'net.ipv6.conf.all.seg6_enabled=1', 'net.ipv6.conf.rs0.seg6_enabled=1']);
      const gwMac = JSON.parse(await lab.execOk('director', ['ip', '-j', 'link', 'show', 'rs0']))[0].address as string;
      // hop null: a plain SYN, no option or extension header.
      const syn = async (src: string, hop: string | null, dst: string): Promise<{ answered: boolean; flags: string }> =>
        JSON.parse(await lab.execOk('realserver', ['/usr/bin/python3', ROUTED_SYN, '--iface', 'eth0', '--gw-mac', gwMac,
          '--src', src, ...(hop ? ['--hop', hop] : []), '--dst', dst, '--dport', '80']));
      try {
        // The counters lag the connections (the estimator): read them once they stopped moving.
        let before = await ipvsConns(lab);
        for (let i = 0; i < 6; i++) {
          await sleep(2_500);
          const again = await ipvsConns(lab);
          if (JSON.stringify(again) === JSON.stringify(before)) break;
          before = again;
        }
        // The control: a route to another local address of the director is followed (its RST answers).
        const control = [await syn(ADDR.rs4, LIP_POOL.v4[0], LIP_POOL.v4[1]), await syn(ADDR.rs6, LIP_POOL.v6[0], LIP_POOL.v6[1])];
        for (const c of control) assert.equal(c.answered, true, `source routing is not honoured, the check proves nothing: ${JSON.stringify(control)}`);
        const toVip = {
          routed4: await syn(ADDR.rs4, LIP_POOL.v4[0], ADDR.vip4),
          routed6: await syn(ADDR.rs6, LIP_POOL.v6[0], ADDR.vip6),
          direct4: await syn(ADDR.rs4, ADDR.vip4, ADDR.vip4),
          direct6: await syn(ADDR.rs6, ADDR.vip6, ADDR.vip6),
          plain4: await syn(ADDR.rs4, null, ADDR.vip4),
          plain6: await syn(ADDR.rs6, null, ADDR.vip6),
        };
        // No handshake (an IPv6 Segment Routing header is followed after netfilter's input hook, to the
        // director's own stack, which resets: IPVS never saw it as VIP-bound).
        for (const [k, r] of Object.entries(toVip)) assert.ok(!r.flags.includes('S'), `${k}: the VIP answered ${r.flags}`);
        await sleep(4_000); // the counters lag up to 2 s before 6.2
        assert.deepEqual(await ipvsConns(lab), before, 'IPVS scheduled a connection from the real servers\' side');
        return { control, toVip };
      } finally {
        await lab.execOk('director', ['sysctl', '-qw', 'net.ipv4.conf.all.accept_source_route=0', 'net.ipv6.conf.all.seg6_enabled=0']);
      }
    });

    await scenario('keepalived: a failing TCP check takes the real server out, a passing one puts it back', async () => {
      await echo!.stop();
      const down = await until('the failed check to remove the real servers', () => ipvsTable(lab), (t) => t[VS4]?.length === 0 && t[VS6]?.length === 0);
      echo = await lab.startPeerEcho({ port: 80, timeoutMs: STARTUP_MS });
      const up = await until('the passing check to put them back', () => ipvsTable(lab), (t) => t[VS4]?.length === 1 && t[VS6]?.length === 1);
      const [r] = await lab.httpClient(['--url', `http://[${ADDR.vip6}]/`]);
      assert.equal(r.body?.remoteAddress, r.localAddress, JSON.stringify(r));
      return { down, up };
    });

    await scenario('keepalived: on exit it removes its virtual services', async () => {
      const code = await keepalived!.stop('SIGTERM', 20_000);
      assert.deepEqual(await ipvsTable(lab), {}, `keepalived exited ${code}`);
      return { code };
    });
  } finally {
    await keepalived?.stop('SIGKILL');
    await lab2.toaBpf(['director', 'detach', '--dev', 'cli0']);
    await lab2.destroy();
  }
}

main()
  .catch((e) => {
    results['(runner)'] = { ok: false, seconds: 0, error: (e as Error).stack ?? String(e) };
    save();
  })
  .finally(() => process.exit(0));
