/**
 * The director's TOA writer in the lab: real clients (the lab's Node client,
 * curl, toa-craft for shapes a normal stack never sends) connect to the VIP;
 * captures at the real server (after NAT) and at the client show what the
 * writer did on the wire, and the receiving kernels check every checksum.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADDR, createLab, labUnavailable, run, tcpOptions, type Lab, type TcpOption, type TcpSegment } from '../lab/index.js';
import { pattern } from '../lab/pattern.js';
import { craft, ensureCraft, toaHex } from '../tools/craft.js';

const why = labUnavailable();
const PORT = 80;
const MB10 = 10_000_000;
/** tcx (Linux 6.6) is what attach picks by default where the kernel has it; clsact filters before. */
const [major, minor] = release().split('.').map(Number);
const DEFAULT_HOOK = major > 6 || (major === 6 && minor >= 6) ? 'tcx' : 'tc';

/** TOA-kind options in an options area: kind, length and body, walking as a receiver would. */
function toaOptions(opts: Uint8Array): TcpOption[] {
  return tcpOptions(opts).filter((o) => o.kind === 254 || o.kind === 253 || o.kind === 200 || (o.kind === 28 && o.len !== 4));
}

/** The body a writer puts in for addr:port in a port-carrying dialect. */
function toaBody(addr: string, port: number): Buffer {
  return Buffer.from(toaHex(addr.includes(':') ? 'v6' : 'v4', addr, port), 'hex').subarray(2);
}

/** Counters that changed from a to b (status --json counters). */
function delta(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.keys(b).map((k) => [k, b[k] - a[k]]).filter(([, v]) => v !== 0));
}

/** Segments of one connection at the real server: LIP:lport <-> RS:PORT. */
function connection(segs: TcpSegment[], lport: number) {
  const fromClient = segs.filter((s) => s.sport === lport && s.dport === PORT);
  const fromServer = segs.filter((s) => s.sport === PORT && s.dport === lport);
  const synack = fromServer.find((s) => s.flags.syn && s.flags.ack);
  return { fromClient, fromServer, isnPlus1: synack ? (synack.seq + 1) >>> 0 : undefined };
}

/** A 10 MB upload and a 10 MB download through the VIP, captured at the real server; both checked byte-exact. */
async function upAndDown10MB(lab: Lab, vip: string) {
  const cap = await lab.capture('realserver', 'eth0', `tcp port ${PORT}`);
  const [up] = await lab.httpClient(['--url', `http://${vip}:${PORT}/`, '--post-bytes', String(MB10)]);
  const [down] = await lab.httpClient(['--url', `http://${vip}:${PORT}/bytes/${MB10}`, '--expect-bytes', String(MB10)]);
  const segs = await cap.stop();
  expect(up.error).toBeUndefined();
  expect(up.body.bodyBytes).toBe(MB10);
  expect(up.body.bodySha256).toBe(createHash('sha256').update(pattern(0, MB10)).digest('hex'));
  expect(down.error).toBeUndefined();
  expect(down.bytes).toBe(MB10);
  return { up, down, segs };
}

describe.skipIf(why)(`director TOA writer${why ? ` (skipped: ${why})` : ''}`, () => {
  let lab: Lab;

  const counters = async (): Promise<Record<string, number>> => (await lab.writerStatus()).counters;

  beforeAll(async () => {
    ensureCraft();
    lab = await createLab();
    await lab.startPeerEcho({ host: '::', port: PORT });
    await lab.attachWriter({ ports: [PORT] });
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  it('status reports the attachment', async () => {
    const st = await lab.writerStatus();
    expect(st).toMatchObject({
      attached: true,
      device: 'cli0',
      hook: DEFAULT_HOOK,
      clsact_created: DEFAULT_HOOK === 'tc',
      filters: { ingress: true, egress: true },
      dialects: { ipv4: 'v4', ipv6: 'v6' },
      strip_kinds: [28, 200, 253, 254],
      flows: { max: 65536 },
    });
    expect(st.vips.sort()).toEqual([`${ADDR.vip4}:${PORT}`, `[${ADDR.vip6}]:${PORT}`].sort());
  });

  it.each([
    ['IPv4 (Node client)', 4],
    ['IPv6 (curl)', 6],
  ] as const)('%s: TOA with the client address and port from the handshake ACK until the server speaks', async (_n, family) => {
    const before = await counters();
    const cap = await lab.capture('realserver', 'eth0', `tcp port ${PORT}`);
    let clientPort: number;
    let lport: number;
    if (family === 4) {
      const [r] = await lab.httpClient(['--url', `http://${ADDR.vip4}:${PORT}/`]);
      expect(r.error).toBeUndefined();
      clientPort = r.localPort!;
      lport = r.body.remotePort;
    } else {
      const out = await lab.execOk('client', ['curl', '-sS', '--max-time', '10', '-w', '\n%{local_port}', `http://[${ADDR.vip6}]:${PORT}/`]);
      const [body, port] = out.trim().split('\n');
      clientPort = Number(port);
      lport = JSON.parse(body).remotePort;
    }
    const segs = await cap.stop();
    const { fromClient, fromServer, isnPlus1 } = connection(segs, lport);
    expect(isnPlus1).toBeDefined();
    const client = family === 4 ? ADDR.client4 : ADDR.client6;
    const want = { kind: 254, len: family === 4 ? 8 : 20, body: toaBody(client, clientPort) };

    // Every client segment acking only the SYN-ACK carries exactly one TOA; every later one none.
    const early = fromClient.filter((s) => !s.flags.syn && s.ack === isnPlus1);
    const late = fromClient.filter((s) => !s.flags.syn && s.ack !== isnPlus1);
    expect(early.length).toBeGreaterThanOrEqual(2); // the handshake ACK and the request
    expect(early.some((s) => s.payloadLength > 0)).toBe(true);
    for (const s of early) expect(toaOptions(s.options)).toEqual([want]);
    expect(late.length).toBeGreaterThan(0);
    expect(fromServer.some((s) => s.payloadLength > 0)).toBe(true);
    for (const s of late) expect(toaOptions(s.options)).toEqual([]);
    for (const s of fromServer) expect(toaOptions(s.options)).toEqual([]);
    for (const s of fromClient) {
      expect(s.tcpChecksumOk).toBe(true);
      if (family === 4) expect(s.ipChecksumOk).toBe(true);
    }
    // The option sits right after the fixed header.
    expect(early[0].options[0]).toBe(254);

    const d = delta(before, await counters());
    expect(d[family === 4 ? 'written_v4' : 'written_v6']).toBe(early.length);
    // Software checksums (the lab's default): no segment is CHECKSUM_PARTIAL, every write takes the fast path.
    expect(d.written_fast).toBe(early.length);
    expect(d.written_moved).toBeUndefined();
    expect(d.flow_new).toBe(1);
    expect(d.flow_done).toBe(1);
    expect(d.helper_err).toBeUndefined();
  });

  it.each([
    ['IPv4', 4, 8],
    ['IPv6', 6, 20],
  ] as const)("%s: the SYN-ACK's MSS lowered by the option length, the SYN's untouched", async (_n, family, room) => {
    const atClient = await lab.capture('client', 'eth0', `tcp port ${PORT}`);
    const atServer = await lab.capture('realserver', 'eth0', `tcp port ${PORT}`);
    const vip = family === 4 ? ADDR.vip4 : `[${ADDR.vip6}]`;
    const [r] = await lab.httpClient(['--url', `http://${vip}:${PORT}/`]);
    expect(r.error).toBeUndefined();
    const c = await atClient.stop();
    const s = await atServer.stop();
    const cSyn = c.find((x) => x.flags.syn && !x.flags.ack && x.sport === r.localPort)!;
    const cSynAck = c.find((x) => x.flags.syn && x.flags.ack && x.dport === r.localPort)!;
    const sSyn = s.find((x) => x.flags.syn && !x.flags.ack && x.sport === r.body.remotePort)!;
    const sSynAck = s.find((x) => x.flags.syn && x.flags.ack && x.dport === r.body.remotePort)!;
    expect(sSyn.mss).toBe(cSyn.mss);
    expect(cSynAck.mss).toBe(sSynAck.mss! - room);
    for (const x of [sSyn, cSynAck]) expect(x.tcpChecksumOk).toBe(true);
  });

  it.each([
    ['IPv4', ADDR.vip4, ADDR.client4],
    ['IPv6', `[${ADDR.vip6}]`, ADDR.client6],
  ])('%s: a 10 MB request body to a silent server (TOA in the first segments only, fast path) and a 10 MB response arrive byte-exact, every checksum right', async (_n, vip, client) => {
    const before = await counters();
    const { up, segs } = await upAndDown10MB(lab, vip);

    expect(segs.length).toBeGreaterThan(1000); // tcpdump may drop some under load
    expect(segs.filter((s) => s.tcpChecksumOk !== true || s.ipChecksumOk === false)).toEqual([]);
    // TOA from the handshake ACK on, until the real server acknowledged data: the first client segments, then none.
    const { fromClient, fromServer } = connection(segs, up.body.remotePort);
    const want = [{ kind: 254, len: client.includes(':') ? 20 : 8, body: toaBody(client, up.localPort!) }];
    const after = fromClient.filter((s) => !s.flags.syn);
    const withToa = after.filter((s) => toaOptions(s.options).length > 0);
    for (const s of withToa) expect(toaOptions(s.options)).toEqual(want);
    expect(after.slice(0, withToa.length)).toEqual(withToa); // a prefix of the connection
    expect(withToa.length).toBeGreaterThanOrEqual(2); // the handshake ACK and the first data
    // About one round trip of segments (the initial window is 10); the rest of the ~7000 carry none.
    expect(withToa.length).toBeLessThanOrEqual(32);
    console.log(`${_n}: ${withToa.length} of ${after.length} client segments carried TOA`);
    // The first server segment after the SYN-ACK acknowledges data; no TOA after the client saw it.
    const firstAck = fromServer.find((s) => !s.flags.syn)!;
    expect(withToa.every((s) => s.time <= firstAck.time + 0.05)).toBe(true);
    const d = delta(before, await counters());
    const written = (d.written_v4 ?? 0) + (d.written_v6 ?? 0);
    // Every segment with TOA was written by the director (the capture may miss some under load).
    expect(written).toBeGreaterThanOrEqual(withToa.length);
    expect(written).toBeLessThanOrEqual(32);
    // Fast path for all but a full checksum that happens to equal the pseudo-header sum (1 in 65536 each).
    expect(d.written_fast + (d.written_moved ?? 0)).toBe(written);
    expect(d.helper_err).toBeUndefined();
  });

  it('a client-forged TOA is overwritten with NOPs and the true one written', async () => {
    const before = await counters();
    const cap = await lab.capture('realserver', 'eth0', `tcp port ${PORT}`);
    const forged = toaHex('v4', ADDR.stranger4, 4242);
    const forged253 = toaHex('v6-ali', ADDR.stranger6, 4242);
    const r = await craft(lab, 'client', ADDR.vip4, PORT, {
      synOpts: `020405b4${forged}`,
      ackOpts: forged,
      dataOpts: `${forged253}fe0c${'00'.repeat(10)}`, // v6-ali and a 254 of no dialect's length
    });
    expect(r.code, r.stderr).toBe(0);
    const segs = await cap.stop();
    const { fromClient, isnPlus1 } = connection(segs, r.body.remotePort);
    const want = [{ kind: 254, len: 8, body: toaBody(ADDR.client4, r.sport) }];
    const syn = fromClient.find((s) => s.flags.syn)!;
    expect(toaOptions(syn.options)).toEqual([]);
    const early = fromClient.filter((s) => !s.flags.syn && s.ack === isnPlus1);
    expect(early.length).toBeGreaterThanOrEqual(2);
    for (const s of early) {
      expect(toaOptions(s.options)).toEqual(want);
      expect(s.tcpChecksumOk).toBe(true);
    }
    const d = delta(before, await counters());
    expect(d.forged_stripped).toBeGreaterThanOrEqual(3);
  });

  it('a segment with no room (data offset 15) passes unchanged and is counted; the connection works', async () => {
    const before = await counters();
    const cap = await lab.capture('realserver', 'eth0', `tcp port ${PORT}`);
    const full = '01'.repeat(40);
    const r = await craft(lab, 'client', ADDR.vip4, PORT, { ackOpts: full, dataOpts: full });
    expect(r.code, r.stderr).toBe(0);
    expect(r.head).toMatch(/^HTTP\/1\.[01] 200/);
    const segs = await cap.stop();
    const { fromClient, isnPlus1 } = connection(segs, r.body.remotePort);
    const early = fromClient.filter((s) => !s.flags.syn && s.ack === isnPlus1);
    expect(early.length).toBeGreaterThanOrEqual(2);
    for (const s of early) {
      expect(s.doff).toBe(15);
      expect(toaOptions(s.options)).toEqual([]);
    }
    const d = delta(before, await counters());
    expect(d.no_room).toBeGreaterThanOrEqual(2);
    expect(d.written_v4).toBeUndefined();
  });

  it('a SYN flood (5000 source ports) never grows the flow table past --flows 1024; a connection afterwards gets its TOA', async () => {
    await lab.attachWriter({ ports: [PORT], extraArgs: ['--flows', '1024'] });
    const flowsPin = join(lab.pinDir, 'director/flows');
    const entries = async (): Promise<number> => JSON.parse((await run(['bpftool', '-j', 'map', 'dump', 'pinned', flowsPin])).stdout).length;
    try {
      expect(await entries()).toBe(0);
      const before = await counters();
      // The client never answers a SYN-ACK (nftables drops them), so every SYN leaves a flow waiting for its ACK.
      await lab.execOk('client', ['nft', '-f', '-'], {
        input: `table inet synflood { chain in { type filter hook input priority 0; tcp sport ${PORT} tcp flags & (syn | ack) == syn | ack drop; }; }`,
      });
      const flood = `
        const net = require('node:net');
        const socks = [];
        (async () => {
          for (let i = 0; i < 5000; i++) {
            const s = net.connect({ host: process.env.VIP, port: Number(process.env.PORT) });
            s.on('error', () => {});
            socks.push(s);
            if (i % 250 === 249) await new Promise((r) => setTimeout(r, 20));
          }
          await new Promise((r) => setTimeout(r, 1500));
          for (const s of socks) s.destroy();
        })();`;
      await lab.execOk('client', [process.execPath, '-'], { input: flood, env: { ...process.env, VIP: ADDR.vip4, PORT: String(PORT) } });
      await lab.execOk('client', ['nft', 'delete', 'table', 'inet', 'synflood']);

      const d = delta(before, await counters());
      expect(d.flow_new).toBeGreaterThanOrEqual(5000); // a SYN-ACK for every SYN (SYN cookies past the backlog)
      const n = await entries();
      expect(n).toBeLessThanOrEqual(1024);
      expect(n).toBeGreaterThan(512); // the flood did fill it (LRU eviction runs in batches, so not to the last entry)
      // status counts the same table (it changes under the flood's retransmitted SYN-ACKs and the client's RSTs).
      const { flows } = await lab.writerStatus();
      expect(flows.max).toBe(1024);
      expect(flows.used).toBeLessThanOrEqual(1024);

      const cap = await lab.capture('realserver', 'eth0', `tcp port ${PORT}`);
      const [r] = await lab.httpClient(['--url', `http://${ADDR.vip4}:${PORT}/`]);
      expect(r.error).toBeUndefined();
      const segs = await cap.stop();
      const { fromClient, isnPlus1 } = connection(segs, r.body.remotePort);
      const ack = fromClient.find((s) => !s.flags.syn && s.ack === isnPlus1)!;
      expect(toaOptions(ack.options)).toEqual([{ kind: 254, len: 8, body: toaBody(ADDR.client4, r.localPort!) }]);
    } finally {
      await lab.exec('client', ['nft', 'delete', 'table', 'inet', 'synflood']);
      await lab.attachWriter({ ports: [PORT] });
    }
  }, 60_000);

  /** Our programs on cli0, by hook: cls_bpf filters (by name) and tcx links pinned in this lab (with their programs). */
  const onDevice = async () => {
    const tc: Record<string, string[]> = {};
    for (const dir of ['ingress', 'egress']) {
      const out = await lab.execOk('director', ['tc', 'filter', 'show', 'dev', 'cli0', dir]);
      tc[dir] = [...out.matchAll(/handle 0x544f (toa_\w+)/g)].map((m) => m[1]);
    }
    const links = JSON.parse((await run(['bpftool', '-j', '-f', 'link', 'show'])).stdout || '[]') as { prog_id: number; pinned?: string[] }[];
    const progId = async (name: string) => JSON.parse((await run(['bpftool', '-j', 'prog', 'show', 'pinned', join(lab.pinDir, 'director', name)])).stdout).id as number;
    const tcx: Record<string, boolean> = {};
    for (const dir of ['ingress', 'egress']) {
      const mine = links.filter((l) => l.pinned?.some((p) => p.startsWith(`${lab.pinDir}/`) && p.endsWith(`link_${dir}`)));
      tcx[dir] = mine.length === 1 && mine[0].prog_id === (await progId(dir));
    }
    const qdisc = await lab.execOk('director', ['tc', 'qdisc', 'show', 'dev', 'cli0']);
    return { tc, tcx, clsact: /clsact/.test(qdisc), links: links.filter((l) => l.pinned?.some((p) => p.startsWith(`${lab.pinDir}/`))).length };
  };

  it("Linux's SYN layout (MSS, SACK permitted, Timestamps, NOP, Window scale) passes byte-exact, and a kind of it given to --strip is still stripped", async () => {
    // The Timestamps body holds bytes that read as a v4 TOA if scanned byte by byte: a walk never looks there.
    const linuxSyn = `020405b4` + `0402` + `080a${toaHex('v4', ADDR.stranger4, 4242).slice(0, 16)}` + `01` + `030307`;
    const synAtServer = async (): Promise<string> => {
      const cap = await lab.capture('realserver', 'eth0', `tcp port ${PORT}`);
      const r = await craft(lab, 'client', ADDR.vip4, PORT, { synOpts: linuxSyn });
      expect(r.code, r.stderr).toBe(0);
      const { fromClient } = connection(await cap.stop(), r.body.remotePort);
      const syn = fromClient.find((s) => s.flags.syn)!;
      expect(toaOptions(syn.options)).toEqual([]);
      return Buffer.from(syn.options).toString('hex');
    };
    const untouched = await counters();
    expect(await synAtServer()).toBe(linuxSyn);
    expect(delta(untouched, await counters()).forged_stripped).toBeUndefined();
    try {
      await lab.attachWriter({ ports: [PORT], extraArgs: ['--strip', '4'] });
      const before = await counters();
      expect(await synAtServer()).toBe(linuxSyn.replace('0402', '0101'));
      expect(delta(before, await counters()).forged_stripped).toBe(1);
    } finally {
      await lab.attachWriter({ ports: [PORT] });
    }
  });

  it('attach again is idempotent: one program per direction, new settings, counters kept', async () => {
    const before = await counters();
    await lab.attachWriter({ ports: [PORT], dialects: ['cdn', 'v6-ali'] });
    await lab.attachWriter({ ports: [PORT], dialects: ['cdn', 'v6-ali'] });
    const here = await onDevice();
    if (DEFAULT_HOOK === 'tcx') {
      // The pinned links now run the new programs; no filter, no qdisc.
      expect(here).toEqual({ tc: { ingress: [], egress: [] }, tcx: { ingress: true, egress: true }, clsact: false, links: 2 });
    } else {
      expect(here).toEqual({ tc: { ingress: ['toa_ingress'], egress: ['toa_egress'] }, tcx: { ingress: false, egress: false }, clsact: true, links: 0 });
    }
    const st = await lab.writerStatus();
    expect(st.dialects).toEqual({ ipv4: 'cdn', ipv6: 'v6-ali' });
    expect(st.strip_kinds).toEqual([28, 200, 253, 254]);
    expect(st.counters.written_v4).toBeGreaterThanOrEqual(before.written_v4);

    // The new dialects on the wire: cdn (NOP-padded 28/7, no port) and v6-ali (253/20).
    const cap = await lab.capture('realserver', 'eth0', `tcp port ${PORT}`);
    const [r4] = await lab.httpClient(['--url', `http://${ADDR.vip4}:${PORT}/`]);
    const [r6] = await lab.httpClient(['--url', `http://[${ADDR.vip6}]:${PORT}/`]);
    const segs = await cap.stop();
    const ack4 = connection(segs, r4.body.remotePort).fromClient.find((s) => !s.flags.syn && s.flags.ack)!;
    const ack6 = connection(segs, r6.body.remotePort).fromClient.find((s) => !s.flags.syn && s.flags.ack)!;
    expect(Buffer.from(ack4.options.subarray(0, 8)).toString('hex')).toBe(`011c0701${Buffer.from(ADDR.client4.split('.').map(Number)).toString('hex')}`);
    expect(toaOptions(ack6.options)).toEqual([{ kind: 253, len: 20, body: toaBody(ADDR.client6, r6.localPort!) }]);
    expect(ack4.tcpChecksumOk && ack6.tcpChecksumOk).toBe(true);

    await lab.attachWriter({ ports: [PORT] });
    expect((await lab.writerStatus()).dialects).toEqual({ ipv4: 'v4', ipv6: 'v6' });
  });

  it('a re-attach with --rs-dev starts without the client side\'s flows (that side keeps none), and one without it keeps them', async () => {
    // Connected and silent: the real server acknowledges no data, so the client-side flow lives.
    const hold = await lab.holdSilentConnection(ADDR.vip4, PORT);
    try {
      const used = async () => (await lab.writerStatus()).flows.used as number;
      const held = await used();
      expect(held).toBeGreaterThanOrEqual(1);
      await lab.attachWriter({ ports: [PORT] });
      expect(await used()).toBe(held);
      await lab.attachWriter({ ports: [PORT], rsDev: true });
      expect(await used()).toBe(0);
    } finally {
      await hold.stop('SIGKILL');
      await lab.attachWriter({ ports: [PORT] });
    }
  });

  it('a re-attach that fails half-way (bad VIP, a device that is not there, a hook that fails after its first program) leaves the attachment before it exactly as it was', async () => {
    await lab.attachWriter({ ports: [PORT] });
    /** What the attachment is: programs and links on the device, the object behind every pin, status but the counters. */
    const state = async () => {
      const pins: Record<string, number> = {};
      for (const name of ['ingress', 'egress', 'vips', 'flows', 'counters', 'info']) {
        const kind = name === 'ingress' || name === 'egress' ? 'prog' : 'map';
        pins[name] = JSON.parse((await run(['bpftool', '-j', kind, 'show', 'pinned', join(lab.pinDir, 'director', name)])).stdout).id;
      }
      const { counters: _c, ...status } = await lab.writerStatus();
      return { device: await onDevice(), pins, status, files: readdirSync(join(lab.pinDir, 'director')).sort() };
    };
    const before = await state();
    const attach = (args: string[]) => lab.toaBpf(['director', 'attach', '--dev', 'cli0', '--vip', `${ADDR.vip4}:${PORT}`, ...args]);
    try {
      const bad = await attach(['--vip', '198.51.100.300:80']);
      expect([bad.code, bad.stderr]).toEqual([2, expect.stringMatching(/bad --vip/)]);
      expect(await state()).toEqual(before);
      const gone = await lab.toaBpf(['director', 'attach', '--dev', 'gone0', '--vip', `${ADDR.vip4}:${PORT}`]);
      expect([gone.code, gone.stderr]).toEqual([1, expect.stringMatching(/no interface 'gone0'/)]);
      expect(await state()).toEqual(before);
      // Another tool's u32 filter where ours would go on egress (clsact, pref 1): the new ingress filter goes on, the egress one cannot.
      await lab.execOk('director', ['tc', 'qdisc', 'add', 'dev', 'cli0', 'clsact']);
      await lab.execOk('director', ['tc', 'filter', 'add', 'dev', 'cli0', 'egress', 'pref', '1', 'protocol', 'all', 'u32', 'match', 'u32', '0', '0']);
      const half = await attach(['--hook', 'tc']);
      expect([half.code, half.stderr]).toEqual([1, expect.stringMatching(/attaching the tc filters to cli0 failed[^]*left as it was/)]);
      expect(await lab.execOk('director', ['tc', 'filter', 'show', 'dev', 'cli0', 'ingress'])).not.toMatch(/toa_/);
      expect(await lab.execOk('director', ['tc', 'filter', 'show', 'dev', 'cli0', 'egress'])).toMatch(/pref 1 u32/);
      await lab.execOk('director', ['tc', 'qdisc', 'del', 'dev', 'cli0', 'clsact']);
      expect(await state()).toEqual(before);
      // And it still writes.
      const w = (await counters()).written_v4;
      const [r] = await lab.httpClient(['--url', `http://${ADDR.vip4}:${PORT}/`]);
      expect(r.error).toBeUndefined();
      expect((await counters()).written_v4).toBeGreaterThan(w);
    } finally {
      await lab.exec('director', ['tc', 'qdisc', 'del', 'dev', 'cli0', 'clsact']);
      await lab.attachWriter({ ports: [PORT] });
    }
  });

  it('--hook tc attaches by clsact filters, and attaching by the default again leaves nothing of them', async () => {
    const clsact = { tc: { ingress: ['toa_ingress'], egress: ['toa_egress'] }, tcx: { ingress: false, egress: false }, clsact: true, links: 0 };
    const tcx = { tc: { ingress: [], egress: [] }, tcx: { ingress: true, egress: true }, clsact: false, links: 2 };
    const written = async () => {
      const before = (await counters()).written_v4;
      const [r] = await lab.httpClient(['--url', `http://${ADDR.vip4}:${PORT}/`]);
      expect(r.body.remoteAddress).toBe(`::ffff:${ADDR.lip4}`);
      return (await counters()).written_v4 - before;
    };

    await lab.attachWriter({ ports: [PORT], extraArgs: ['--hook', 'tc'] });
    await lab.attachWriter({ ports: [PORT], extraArgs: ['--hook', 'tc'] });
    expect(await onDevice()).toEqual(clsact);
    expect(await lab.writerStatus()).toMatchObject({ hook: 'tc', clsact_created: true, filters: { ingress: true, egress: true } });
    expect(await written()).toBeGreaterThanOrEqual(1);

    await lab.attachWriter({ ports: [PORT] });
    expect(await onDevice()).toEqual(DEFAULT_HOOK === 'tcx' ? tcx : clsact);
    expect(await written()).toBeGreaterThanOrEqual(1);
    if (DEFAULT_HOOK === 'tc') {
      const r = await lab.toaBpf(['director', 'attach', '--dev', 'cli0', '--vip', `${ADDR.vip4}:${PORT}`, '--hook', 'tcx']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/this kernel has no tcx \(Linux 6\.6\)/);
      expect(await onDevice()).toEqual(clsact);
    }
  });

  it('state pinned before tcx support (hook byte 0) is read as clsact: status says tc, detach removes the qdisc it made', async () => {
    await lab.attachWriter({ ports: [PORT], extraArgs: ['--hook', 'tc'] });
    const info = join(lab.pinDir, 'director/info');
    const { value } = JSON.parse((await run(['bpftool', '-j', 'map', 'lookup', 'pinned', info, 'key', '0', '0', '0', '0'])).stdout) as { value: string[] };
    value[11] = '0x00'; // struct director_info.hook
    expect((await run(['bpftool', 'map', 'update', 'pinned', info, 'key', '0', '0', '0', '0', 'value', ...value])).code).toBe(0);
    expect(await lab.writerStatus()).toMatchObject({ hook: 'tc', clsact_created: true, filters: { ingress: true, egress: true } });
    await lab.detachWriter();
    expect(await onDevice()).toEqual({ tc: { ingress: [], egress: [] }, tcx: { ingress: false, egress: false }, clsact: false, links: 0 });
    await lab.attachWriter({ ports: [PORT] });
  });

  it('--hook tc on a clsact qdisc another tool made: uses it, and detach leaves it and its filters', async () => {
    await lab.detachWriter();
    await lab.execOk('director', ['tc', 'qdisc', 'add', 'dev', 'cli0', 'clsact']);
    // Theirs, behind ours (pref 9): a u32 filter that matches every packet and passes it on.
    await lab.execOk('director', ['tc', 'filter', 'add', 'dev', 'cli0', 'ingress', 'pref', '9', 'protocol', 'all', 'u32', 'match', 'u32', '0', '0']);
    try {
      await lab.attachWriter({ ports: [PORT], extraArgs: ['--hook', 'tc'] });
      expect(await lab.writerStatus()).toMatchObject({ hook: 'tc', clsact_created: false, filters: { ingress: true, egress: true } });
      const before = (await counters()).written_v4;
      const [r] = await lab.httpClient(['--url', `http://${ADDR.vip4}:${PORT}/`]);
      expect(r.error).toBeUndefined();
      expect((await counters()).written_v4).toBeGreaterThan(before);
      await lab.detachWriter();
      expect(await lab.execOk('director', ['tc', 'qdisc', 'show', 'dev', 'cli0'])).toMatch(/clsact/);
      const ingress = await lab.execOk('director', ['tc', 'filter', 'show', 'dev', 'cli0', 'ingress']);
      expect(ingress).toMatch(/pref 9 u32/);
      expect(ingress).not.toMatch(/toa_/);
    } finally {
      await lab.exec('director', ['tc', 'qdisc', 'del', 'dev', 'cli0', 'clsact']);
      await lab.attachWriter({ ports: [PORT] });
    }
  });

  it('detach leaves no filter, qdisc, pin or program behind, and plain FullNAT works again', async () => {
    const pinned = (await run(['bpftool', '-j', 'prog', 'show', 'pinned', join(lab.pinDir, 'director/ingress')])).stdout;
    const progId = JSON.parse(pinned).id as number;
    expect(progId).toBeGreaterThan(0);

    await lab.detachWriter();
    for (const dir of ['ingress', 'egress']) {
      expect((await lab.exec('director', ['tc', 'filter', 'show', 'dev', 'cli0', dir])).stdout).not.toMatch(/toa_|bpf/);
    }
    expect(await lab.execOk('director', ['tc', 'qdisc', 'show', 'dev', 'cli0'])).not.toMatch(/clsact/);
    expect((await onDevice()).links).toBe(0);
    expect(existsSync(join(lab.pinDir, 'director'))).toBe(false);
    if (existsSync(lab.pinDir)) expect(readdirSync(lab.pinDir)).not.toContain('director');
    // The kernel frees a detached program after an RCU grace period: give it a few seconds.
    await expect
      .poll(async () => (await run(['bpftool', 'prog', 'show', 'id', String(progId)])).code, { timeout: 10_000, interval: 200 })
      .not.toBe(0);
    expect(await lab.writerStatus()).toMatchObject({ attached: false });
    // Detach again: nothing to do, still success.
    expect((await lab.toaBpf(['director', 'detach', '--dev', 'cli0'])).code).toBe(0);

    const cap = await lab.capture('realserver', 'eth0', `tcp port ${PORT}`);
    const [r] = await lab.httpClient(['--url', `http://${ADDR.vip4}:${PORT}/`]);
    expect(r.error).toBeUndefined();
    expect(r.body.remoteAddress).toBe(`::ffff:${ADDR.lip4}`);
    const segs = await cap.stop();
    const { fromClient } = connection(segs, r.body.remotePort);
    expect(fromClient.length).toBeGreaterThan(2);
    for (const s of fromClient) expect(toaOptions(s.options)).toEqual([]);
    const syn = fromClient.find((s) => s.flags.syn)!;
    expect(syn.mss).toBe(1460);
  });
});

describe.skipIf(why)(`director TOA writer with checksum offload on${why ? ` (skipped: ${why})` : ''}`, () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await createLab({ offload: true });
    // The client's segments arrive CHECKSUM_PARTIAL, MTU-sized (no TSO/GSO: GSO segments are passed
    // on unwritten), so every write takes the tail path. With tx offload off on rs0 the director's
    // kernel computes each sum from csum_start, so a wrong csum_start would show at the real server.
    await lab.execOk('client', ['ethtool', '-K', 'eth0', 'tso', 'off', 'gso', 'off']);
    await lab.execOk('director', ['ethtool', '-K', 'rs0', 'tx', 'off']);
    await lab.startPeerEcho({ host: '::', port: PORT });
    await lab.attachWriter({ ports: [PORT] });
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  it.each([
    ['IPv4', ADDR.vip4, ADDR.client4],
    ['IPv6', `[${ADDR.vip6}]`, ADDR.client6],
  ])('%s: TOA in the first upload segments (moved path), 10 MB up and down byte-exact, every segment checksummed right', async (_n, vip, client) => {
    const before = (await lab.writerStatus()).counters;
    const { up, segs } = await upAndDown10MB(lab, vip);
    // What the director sent (the real server's own segments leave with their sums still to compute).
    const fromDirector = segs.filter((s) => s.dport === PORT);
    expect(fromDirector.length).toBeGreaterThan(1000); // tcpdump may drop some under load
    expect(fromDirector.filter((s) => s.tcpChecksumOk !== true)).toEqual([]);

    const { fromClient, isnPlus1 } = connection(segs, up.body.remotePort);
    const want = [{ kind: 254, len: client.includes(':') ? 20 : 8, body: toaBody(client, up.localPort!) }];
    const withToa = fromClient.filter((s) => toaOptions(s.options).length > 0);
    expect(withToa.length).toBeGreaterThanOrEqual(2);
    expect(withToa.length).toBeLessThanOrEqual(32);
    for (const s of withToa) expect([s.ack, toaOptions(s.options)]).toEqual([isnPlus1, want]);

    const d = delta(before, (await lab.writerStatus()).counters);
    const written = (d.written_v4 ?? 0) + (d.written_v6 ?? 0);
    expect(written).toBeGreaterThanOrEqual(withToa.length);
    expect(written).toBeLessThanOrEqual(32);
    // A CHECKSUM_PARTIAL segment never takes the fast path (its csum_start would point at the wrong bytes).
    expect(d.written_moved).toBe(written);
    expect(d.written_fast).toBeUndefined();
    expect(d.gso).toBeUndefined();
    expect(d.helper_err).toBeUndefined();
  });
});
