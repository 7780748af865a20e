/**
 * No packet shape lets a client choose its own address through the director.
 *
 * A client sends a forged TOA (the stranger's address) in its handshake ACK
 * and request, in shapes an ordinary stack never uses: IP fragments (8-byte
 * ones, a first fragment with MF, an IPv6 atomic fragment), IPv6 extension
 * headers, IPsec AH, VLAN tags, every kind a real server may accept, a full
 * options area (data offset 15) where the writer has no room, GSO segments
 * (the client kernel's own TSO, the option written by a sockops program in
 * the client's cgroup: test/tools/forge-opt.bpf.c). The real server's
 * reader (the eBPF path; toa.ko in the VM run, test/vm/director.test.ts)
 * accepts every dialect, so a forged option that got
 * through would show as the answer's remoteAddress. The writer's counters say
 * what happened to each shape: walked and written, or dropped and why.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADDR, createLab, labUnavailable, readerUnavailable, REPO_ROOT, run, runOk, tcpOptions, type Lab } from '../lab/index.js';
import { Cgroup, inCgroup } from '../lab/cgroup.js';
import { inNetns } from '../lab/run.js';
import { craft, ensureCraft, toaHex } from '../tools/craft.js';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';

const PORT = 80;
const FORGED_PORT = 4321;
const ALL_DIALECTS = ['v4', 'v6', 'v6-ali', 'v4-253', 'v4-200', 'cdn', 'cdn6'];
const SHAPE = join(REPO_ROOT, 'test/tools/toa-shape.py');
/** Debian's python3, where python3-scapy installs (a python3 earlier in PATH may be another). */
const PYTHON = '/usr/bin/python3';

function scapyMissing(): string | null {
  try {
    execFileSync(PYTHON, ['-c', 'import scapy.all'], { stdio: 'ignore' });
    return null;
  } catch {
    return 'python3-scapy is not installed (scripts/debian-packages.txt)';
  }
}

const why = labUnavailable() ?? readerUnavailable() ?? scapyMissing();

interface ShapeResult {
  case: string;
  sport: number;
  synack: boolean;
  response: string;
  rst: boolean;
}

/** What a dual-stack listener reports for an address. */
const onDual = (a: string): string => (a.includes(':') ? a : `::ffff:${a}`);

/** Counters that changed from a to b. */
function delta(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.keys(b).map((k) => [k, b[k] - (a[k] ?? 0)]).filter(([, v]) => v !== 0));
}

describe.skipIf(why)(`director: no packet shape carries a client's own TOA${why ? ` (skipped: ${why})` : ''}`, () => {
  let lab: Lab;
  let gwMac: string;

  const counters = async (): Promise<Record<string, number>> => (await lab.writerStatus()).counters;

  /** Runs toa-shape from the client for these cases with a forged TOA of the client's family. */
  async function shapes(family: 4 | 6, cases: string[], hop?: string): Promise<ShapeResult[]> {
    const v6 = family === 6;
    const forged = v6 ? toaHex('v6', ADDR.stranger6, FORGED_PORT) : toaHex('v4', ADDR.stranger4, FORGED_PORT);
    const src = v6 ? ADDR.client6 : ADDR.client4;
    const dst = v6 ? ADDR.vip6 : ADDR.vip4;
    const r = await lab.exec(
      'client',
      [PYTHON, SHAPE, '--iface', 'eth0', '--gw-mac', gwMac, '--src', src, '--dst', dst, '--dport', String(PORT), '--opts', forged,
        ...(hop ? ['--hop', hop] : []), ...cases],
      { timeoutMs: 20_000 * cases.length },
    );
    expect(r.code, r.stderr).toBe(0);
    return r.stdout.trim().split('\n').map((l) => JSON.parse(l) as ShapeResult);
  }

  /** The answer's JSON, or null when the server never answered. */
  const answer = (r: ShapeResult): any => {
    const i = r.response.indexOf('\r\n\r\n');
    return i < 0 ? null : JSON.parse(r.response.slice(i + 4));
  };

  beforeAll(async () => {
    ensureCraft();
    lab = await createLab();
    gwMac = JSON.parse(await lab.execOk('director', ['ip', '-j', 'link', 'show', 'cli0']))[0].address;
    await lab.startPeerEcho({ host: '::', port: PORT });
    await lab.attachWriter({ ports: [PORT] });
    await lab.attachReader({ accept: ALL_DIALECTS });
  }, 60_000);

  afterAll(async () => {
    await lab?.destroy();
  });

  it('status: every kind a real server may accept is stripped by default', async () => {
    expect((await lab.writerStatus()).strip_kinds).toEqual([28, 200, 253, 254]);
  });

  it.each([4, 6] as const)('IPv%i: walked shapes are stripped and written (the true client), fragments and unwalkable chains dropped', async (family) => {
    const v6 = family === 6;
    const client = v6 ? ADDR.client6 : ADDR.client4;
    // Priority tags: the kernel takes the outer one off before tc, the writer reads two more; four are one too many.
    const vlans = ['vlan1', 'vlan2', 'vlan3'];
    const walked = v6 ? ['plain', 'hbh', 'dst', 'rt', 'hbh-dst-rt', ...vlans] : ['plain', ...vlans];
    const fragments = v6 ? ['frag8', 'atomic'] : ['frag8', 'frag-first'];
    const headers = v6 ? ['ah', 'chain9'] : ['ah'];
    const routed = v6 ? ['rt-left'] : ['lsrr'];
    const before = await counters();
    const cap = await lab.capture('realserver', 'eth0', `tcp port ${PORT}`);
    const res = await shapes(family, [...walked, ...fragments, ...headers, ...routed, 'vlan4']);
    const segs = await cap.stop();
    const byCase = Object.fromEntries(res.map((r) => [r.case, r]));
    const d = delta(before, await counters());

    for (const c of walked) {
      expect([c, byCase[c].synack], 'the handshake starts').toEqual([c, true]);
      expect([c, answer(byCase[c])?.remoteAddress, answer(byCase[c])?.remotePort]).toEqual([c, onDual(client), byCase[c].sport]);
    }
    for (const c of [...fragments, ...headers, ...routed, 'vlan4']) {
      // Dropped at the director: the server never completes the handshake, let alone answers.
      expect([c, byCase[c].synack, answer(byCase[c])]).toEqual([c, true, null]);
    }
    // Nothing that reached the real server names the stranger.
    const stranger = Buffer.from(toaHex(v6 ? 'v6' : 'v4', v6 ? ADDR.stranger6 : ADDR.stranger4, FORGED_PORT), 'hex').subarray(2);
    for (const s of segs) expect(Buffer.from(s.options).includes(stranger)).toBe(false);

    // Each walked case: ACK and request stripped (one forged option each) and written.
    expect(d.forged_stripped).toBe(2 * walked.length);
    expect(d[v6 ? 'written_v6' : 'written_v4']).toBe(2 * walked.length);
    // Every fragment of both segments, and both segments of each unwalkable chain, dropped and counted.
    // toa-shape's request is 35 bytes; the forged option 8 (IPv4) or 20 (IPv6) bytes.
    const ack = 20 + (v6 ? 20 : 8);
    const frag8 = Math.ceil(ack / 8) + Math.ceil((ack + 35) / 8);
    expect(d.dropped_fragment).toBe(frag8 + (v6 ? 2 : 4)); // atomic: 1 + 1; frag-first: 2 + 2
    expect(d.dropped_headers).toBe(2 * headers.length);
    expect(d.dropped_source_route).toBe(2 * routed.length);
    expect(d.dropped_vlan).toBe(2);
    expect(d.helper_err).toBeUndefined();
  }, 180_000);

  it.each([4, 6] as const)('IPv%i: a source route through a VIP is dropped whatever the packet\'s own destination, fragmented or behind headers', async (family) => {
    // The ACK and the request go to the director's own address, the VIP next in their route: a
    // kernel that honours source routes (IPVS holds the VIP locally) would hand them to the VIP
    // after tc, unstripped. The handshake itself was plain, to the VIP. The route may also sit
    // where the writer cannot read it: in IPv4 fragments, behind an IPv6 Fragment header or past
    // the walk's eight extension headers.
    const v6 = family === 6;
    const cases = v6 ? ['rt-left', 'frag-rt-left', 'chain-rt-left'] : ['lsrr', 'lsrr-frag'];
    const before = await counters();
    const res = await shapes(family, cases, v6 ? ADDR.dirClient6 : ADDR.dirClient4);
    const d = delta(before, await counters());
    for (const r of res) expect([r.case, r.synack, answer(r)]).toEqual([r.case, true, null]);
    if (v6) {
      expect([d.dropped_source_route, d.dropped_fragment, d.dropped_headers]).toEqual([2, 2, 2]);
    } else {
      // lsrr-frag: 8-byte fragments of the ACK (28 bytes: 4) and the request (63 bytes: 8), each with the route.
      expect(d.dropped_source_route).toBe(2 + 12);
    }
    expect(d.forged_stripped).toBeUndefined();
  }, 90_000);

  it('IPv6 fragments to other addresses: dropped only where a Routing header could follow (Destination Options), not ESP', async () => {
    // Fragments of IPsec or other protocols to a host beyond the director are not the writer's to judge.
    const send = (nh: number): Promise<string> => lab.execOk('client', [PYTHON, '-c', [
      'from scapy.all import Ether, IPv6, IPv6ExtHdrFragment, Raw, sendp, conf',
      'conf.verb = 0',
      `sendp(Ether(dst="${gwMac}") / IPv6(src="${ADDR.client6}", dst="${ADDR.stranger6}") / IPv6ExtHdrFragment(nh=${nh}, m=1, id=7) / Raw(b"x" * 16), iface="eth0")`,
    ].join('\n')]);
    const before = await counters();
    await send(50); // ESP
    const mid = await counters();
    await send(60); // Destination Options
    const after = await counters();
    expect(delta(before, mid).dropped_fragment).toBeUndefined();
    expect(delta(mid, after).dropped_fragment).toBe(1);
  }, 60_000);

  it.each([
    ['IPv4', 4, ['v4', 'v4-253', 'v4-200', 'cdn']],
    ['IPv6', 6, ['v6', 'v6-ali', 'cdn6']],
  ] as const)('%s: every kind a real server may accept, forged, is stripped with room (the true client) and without (data offset 15: the LIP)', async (_n, family, dialects) => {
    const v6 = family === 6;
    const vip = v6 ? ADDR.vip6 : ADDR.vip4;
    const stranger = v6 ? ADDR.stranger6 : ADDR.stranger4;
    const client = v6 ? ADDR.client6 : ADDR.client4;
    const lip = v6 ? ADDR.lip6 : ADDR.lip4;
    for (const d of dialects) {
      const forged = toaHex(d, stranger, FORGED_PORT);
      const roomy = await craft(lab, 'client', vip, PORT, { ackOpts: forged, dataOpts: forged });
      expect(roomy.code, `${d}: ${roomy.stderr}`).toBe(0);
      expect([d, roomy.body.remoteAddress, roomy.body.remotePort]).toEqual([d, onDual(client), roomy.sport]);
      // A full options area: the writer has no room for its own TOA, the client's is still gone.
      const full = `${forged.padStart(80, '01')}`;
      const before = await counters();
      const tight = await craft(lab, 'client', vip, PORT, { ackOpts: full, dataOpts: full });
      expect(tight.code, `${d}: ${tight.stderr}`).toBe(0);
      expect([d, tight.body.remoteAddress]).toEqual([d, onDual(lip)]);
      const c = delta(before, await counters());
      expect([d, c.forged_stripped, c.no_room]).toEqual([d, 2, 2]);
    }
  }, 120_000);

  it('the 4-byte User Timeout option (kind 28) is left alone', async () => {
    const cap = await lab.capture('realserver', 'eth0', `tcp port ${PORT}`);
    const r = await craft(lab, 'client', ADDR.vip4, PORT, { ackOpts: '1c048001', dataOpts: '1c048001' });
    expect(r.code, r.stderr).toBe(0);
    const segs = await cap.stop();
    const data = segs.find((s) => s.dport === PORT && s.payloadLength > 0)!;
    expect(Buffer.from(data.options).toString('hex')).toContain('1c048001');
  });
});

describe.skipIf(why)(`director: data offset 15 with a kind-200 option, real server --accept v4 v4-200 (the README's example)${why ? ` (skipped: ${why})` : ''}`, () => {
  let lab: Lab;

  beforeAll(async () => {
    ensureCraft();
    lab = await createLab();
    await lab.startPeerEcho({ host: '::', port: PORT });
    await lab.attachWriter({ ports: [PORT] });
    await lab.attachReader({ accept: ['v4', 'v4-200'] });
  }, 60_000);

  afterAll(async () => {
    await lab?.destroy();
  });

  it('the real server sees the LIP, never the forged client', async () => {
    const forged = toaHex('v4-200', ADDR.stranger4, FORGED_PORT);
    const r = await craft(lab, 'client', ADDR.vip4, PORT, { ackOpts: forged.padStart(80, '01'), dataOpts: forged.padStart(80, '01') });
    expect(r.code, r.stderr).toBe(0);
    expect(r.body.remoteAddress).toBe(onDual(ADDR.lip4));
  });
});

describe.skipIf(why)(`director: a forged TOA in GSO segments (kernel TSO, the client's own sockops writes it)${why ? ` (skipped: ${why})` : ''}`, () => {
  let lab: Lab;
  let clientCg: Cgroup;
  const forgeDir = () => join(lab.pinDir, 'forge');

  beforeAll(async () => {
    ensureCraft();
    // Offload on: the client's TCP hands the veth TSO segments, which reach the director's tc as GSO skbs.
    lab = await createLab({ offload: true });
    await lab.startPeerEcho({ host: '::', port: PORT });
    await lab.attachWriter({ ports: [PORT] });
    await lab.attachReader({ accept: ['v4', 'v4-200'] });
    clientCg = new Cgroup(`${lab.id}-forge`);
    const forged = Buffer.from(toaHex('v4-200', ADDR.stranger4, FORGED_PORT), 'hex');
    mkdirSync(forgeDir());
    await runOk(['bpftool', 'prog', 'load', join(REPO_ROOT, 'test/tools/build/forge-opt.bpf.o'), join(forgeDir(), 'prog'), 'type', 'sockops', 'pinmaps', forgeDir()]);
    await runOk(['bpftool', 'map', 'update', 'pinned', join(forgeDir(), 'forged'), 'key', '0', '0', '0', '0', 'value', ...[...forged].map(String)]);
    await runOk(['bpftool', 'cgroup', 'attach', clientCg.path, 'sock_ops', 'pinned', join(forgeDir(), 'prog')]);
  }, 60_000);

  afterAll(async () => {
    if (clientCg) {
      await run(['bpftool', 'cgroup', 'detach', clientCg.path, 'sock_ops', 'pinned', join(forgeDir(), 'prog')]);
      clientCg.remove();
    }
    await lab?.destroy();
  });

  it('a 1 MB upload whose every segment carries a kind-200 TOA (real server --accept v4 v4-200): stripped everywhere, the application sees the client', async () => {
    const before = (await lab.writerStatus()).counters;
    const cap = await lab.capture('realserver', 'eth0', `tcp port ${PORT}`);
    const out = await runOk(
      inCgroup(clientCg.path, inNetns(lab.ns.client, [process.execPath, '--import', 'tsx', join(REPO_ROOT, 'test/lab/clients/http-client.ts'), '--url', `http://${ADDR.vip4}:${PORT}/`, '--post-bytes', '1000000'])),
      { timeoutMs: 60_000 },
    );
    const segs = await cap.stop();
    const [r] = JSON.parse(out);
    expect(r.error).toBeUndefined();
    expect({ remoteAddress: r.body.remoteAddress, bodyBytes: r.body.bodyBytes }).toEqual({ remoteAddress: onDual(ADDR.client4), bodyBytes: 1000000 });
    const fromClient = segs.filter((s) => s.dport === PORT);
    expect(fromClient.length).toBeGreaterThan(10);
    expect(fromClient.filter((s) => tcpOptions(s.options).some((o) => o.kind === 200))).toEqual([]);
    const d = delta(before, (await lab.writerStatus()).counters);
    expect(d.gso).toBeGreaterThan(0); // GSO segments did pass (no TOA written into them)
    // Every segment the writer saw from this client carried the forged option: each was stripped.
    expect(d.forged_stripped).toBeGreaterThanOrEqual(d.gso + d.written_v4);
  }, 120_000);
});
