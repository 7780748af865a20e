/**
 * The director behind SYNPROXY (issue 14): nftables answers client SYNs
 * with cookies and opens its own connection to the real server only for
 * clients that complete that handshake. The real server's handshake is the
 * director's own, so the TOA must be written on the real-server-facing side
 * (toa-bpf director --rs-dev), from conntrack. Checked here: both families,
 * a request-time reader (HTTP, client speaks first) and an accept-time
 * reader that speaks first (a banner), the TOA in the very ACK that
 * completes the real server's handshake, no rejected or retransmitted
 * segment on the real server, and a bounded spoofed flood that makes no
 * writer state and reaches no real server.
 *
 * The lab runs with checksum offload here: nftables' synproxy statement
 * checks an IPv6 segment's sum with the IPv4 function (nft_synproxy.c,
 * nf_ip_checksum), so it drops every IPv6 SYN whose sum the device did not
 * vouch for (CHECKSUM_UNNECESSARY); see bpf/director/README.md.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADDR,
  createLab,
  endpoint,
  extraClient4,
  labUnavailable,
  READER,
  readerUnavailable,
  REPO_ROOT,
  tcpOptions,
  type Lab,
  type TcpSegment,
} from '../lab/index.js';
import { parseProm, promParserUnavailable, promValue } from '../lab/prometheus.js';

const why = labUnavailable() ?? readerUnavailable();
const HTTP = 80;
const BANNER = 25;
const CONNS = 5;
const SYNFLOOD = join(REPO_ROOT, 'test/tools/build/synflood');
const SPOOFED = 16;

/** /proc/net/snmp and /proc/net/netstat of a namespace as one map ("TcpExtTSEcrRejected", "TcpRetransSegs", ...). */
async function netstat(lab: Lab, role: 'realserver' | 'director'): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const f of ['/proc/net/snmp', '/proc/net/netstat']) {
    const lines = (await lab.execOk(role, ['cat', f])).trim().split('\n');
    for (let i = 0; i + 1 < lines.length; i += 2) {
      const keys = lines[i].split(/\s+/);
      const vals = lines[i + 1].split(/\s+/);
      const prefix = keys[0].replace(/:$/, '');
      for (let j = 1; j < keys.length; j++) out[prefix + keys[j]] = Number(vals[j]);
    }
  }
  return out;
}

/** SYNPROXY's own counters in the director (/proc/net/stat/synproxy, hex per CPU), summed. */
async function synproxyStats(lab: Lab): Promise<Record<string, number>> {
  const lines = (await lab.execOk('director', ['cat', '/proc/net/stat/synproxy'])).trim().split('\n');
  const keys = lines[0].split(/\s+/);
  const sum: Record<string, number> = Object.fromEntries(keys.map((k) => [k, 0]));
  for (const l of lines.slice(1)) l.split(/\s+/).forEach((v, i) => (sum[keys[i]] += parseInt(v, 16)));
  return sum;
}

/** The TOA body (port, address) a v4 or v6 dialect option carries for addr:port. */
function toaOf(seg: TcpSegment): { addr: string; port: number } | null {
  const o = tcpOptions(seg.options).find((x) => x.kind === 254);
  if (!o) return null;
  const b = o.body;
  const port = b.readUInt16BE(0);
  if (b.length === 6) return { addr: [...b.subarray(2)].join('.'), port };
  const words = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(2 + 2 * i).toString(16));
  // URL's host parser writes IPv6 in its canonical short form.
  return { addr: new URL(`http://[${words.join(':')}]/`).hostname.slice(1, -1), port };
}

/** Every segment of a capture, one line each with its timestamps, for a failure message. */
function describe_(segs: TcpSegment[]): string {
  const t0 = segs[0]?.time ?? 0;
  return segs
    .map((s) => {
      const ts = tcpOptions(s.options).find((o) => o.kind === 8);
      const f = Object.entries(s.flags).filter(([, v]) => v).map(([k]) => k).join(',');
      const tsTxt = ts ? ` TSval ${ts.body.readUInt32BE(0)} TSecr ${ts.body.readUInt32BE(4)}` : '';
      return `${((s.time - t0) * 1000).toFixed(1)}ms ${s.src}.${s.sport} > ${s.dst}.${s.dport} [${f}] seq ${s.seq} ack ${s.ack} len ${s.payloadLength}${tsTxt}`;
    })
    .join('\n');
}

/** A segment's TSval, if it carries timestamps. */
function tsvalOf(s: TcpSegment): number | undefined {
  return tcpOptions(s.options).find((o) => o.kind === 8)?.body.readUInt32BE(0);
}

/** A segment's TSecr, if it carries timestamps. */
function tsecrOf(s: TcpSegment): number | undefined {
  return tcpOptions(s.options).find((o) => o.kind === 8)?.body.readUInt32BE(4);
}

/**
 * Closes the lab's veth reordered, which a real server then drops by PAWS in
 * TIME_WAIT: the server closed first; the client's bare ACK of that FIN
 * (sent from softirq on one CPU) reached the real server after the client's
 * own FIN (sent from close() on the other), with the same sequence and ack
 * numbers and an older TSval. At most one per connection; nothing on the
 * director writes a client's TSval (SYNPROXY and fix_tsecr touch TSecr only).
 */
function reorderedCloses(segs: TcpSegment[]): number {
  const servers = new Set([HTTP, BANNER]);
  const serverFin = new Map<string, number>();
  const clientFin = new Map<string, TcpSegment>();
  const counted = new Set<string>();
  for (const s of segs) {
    const toServer = servers.has(s.dport);
    const key = toServer ? `${s.sport} ${s.dport}` : `${s.dport} ${s.sport}`;
    if (!toServer) {
      if (s.flags.fin && !clientFin.has(key)) serverFin.set(key, s.seq);
      continue;
    }
    const sf = serverFin.get(key);
    if (sf === undefined || s.flags.rst || s.ack !== ((sf + 1) >>> 0)) continue;
    if (s.flags.fin) {
      clientFin.set(key, s);
      continue;
    }
    const fin = clientFin.get(key);
    const [ts, finTs] = [tsvalOf(s), fin && tsvalOf(fin)];
    if (!fin || counted.has(key) || s.payloadLength !== 0 || s.seq !== fin.seq || ts === undefined || finTs === undefined) continue;
    if (((ts - finTs) | 0) < 0) counted.add(key);
  }
  return counted.size;
}

/** The real server's view of one connection, by the director's port (LIP:lport <-> RS:port). */
function handshake(segs: TcpSegment[], lport: number, port: number) {
  const toServer = segs.filter((s) => s.sport === lport && s.dport === port);
  const fromServer = segs.filter((s) => s.sport === port && s.dport === lport);
  const synacks = fromServer.filter((s) => s.flags.syn && s.flags.ack);
  const isn1 = synacks.length ? (synacks[0].seq + 1) >>> 0 : undefined;
  // The segment that completes the handshake: the first one after the SYN that acks the server's ISN.
  const completing = toServer.find((s) => !s.flags.syn && s.flags.ack && s.ack === isn1);
  return { toServer, synacks, completing };
}

describe.skipIf(why)(`director behind SYNPROXY (--rs-dev), ${READER === 'module' ? 'toa.ko' : 'eBPF'} real server${why ? ` (skipped: ${why})` : ''}`, () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await createLab({ offload: true, extraClients: SPOOFED });
    // The flood's sources answer nothing, like absent hosts (no RST frees what a SYN made).
    await lab.muteExtraClients(SPOOFED);
    await lab.setSynproxy({});
    await lab.attachWriter({ ports: [HTTP, BANNER], rsDev: true });
    await lab.attachReader();
    await lab.startPeerEcho({ port: HTTP });
    const banner = lab.spawn(
      'realserver',
      [process.execPath, '--import', 'tsx', join(REPO_ROOT, 'test/lab/servers/banner.ts'), '--port', String(BANNER)],
      { cgroup: true },
    );
    await banner.waitFor(/^listening /m, 20_000);
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  it('status shows the real-server-facing programs', async () => {
    const st = await lab.writerStatus();
    expect(st.rs).toMatchObject({ device: 'rs0', filters: { ingress: true, egress: true } });
  });

  it.skipIf(promParserUnavailable())('status --format prometheus names the real-server-facing side and its flows', async () => {
    const r = await lab.toaBpf(['director', 'status', '--format', 'prometheus']);
    expect(r.code, r.stderr).toBe(0);
    const fams = parseProm(r.stdout);
    for (const direction of ['ingress', 'egress']) {
      expect(promValue(fams, 'toa_director_hook_present', { side: 'rs', device: 'rs0', direction })).toBe(1);
      expect(promValue(fams, 'toa_director_hook_present', { side: 'client', device: 'cli0', direction })).toBe(1);
    }
    // A connection held open on the real-server side is one rs flow until it ends.
    const before = promValue(fams, 'toa_director_rs_flows_used');
    expect(before).toBe((await lab.writerStatus()).rs.flows.used);
    // Connected and silent: the real server has acknowledged no data, so the flow lives.
    const hold = await lab.holdSilentConnection(ADDR.vip4, HTTP);
    try {
      let during: number | undefined;
      for (let i = 0; i < 50 && during !== before! + 1; i++) {
        if (i) await new Promise((r) => setTimeout(r, 200));
        during = promValue(parseProm((await lab.toaBpf(['director', 'status', '--format', 'prometheus'])).stdout), 'toa_director_rs_flows_used');
      }
      expect(during).toBe(before! + 1);
    } finally {
      await hold.stop('SIGKILL');
    }
    // Its close ends the flow, before the next test counts anything.
    let after: number | undefined;
    for (let i = 0; i < 50 && after !== before; i++) {
      if (i) await new Promise((r) => setTimeout(r, 200));
      after = promValue(parseProm((await lab.toaBpf(['director', 'status', '--format', 'prometheus'])).stdout), 'toa_director_rs_flows_used');
    }
    expect(after).toBe(before);
  });

  it('--rs-dev is refused on the client-facing device itself and outside attach', async () => {
    const same = await lab.toaBpf(['director', 'attach', '--dev', 'cli0', '--rs-dev', 'cli0', '--vip', endpoint(ADDR.vip4, HTTP)]);
    expect(same.code).toBe(2);
    expect(same.stderr).toMatch(/--rs-dev must be another interface/);
    const st = await lab.toaBpf(['director', 'status', '--rs-dev', 'rs0']);
    expect(st.code).toBe(2);
  });

  describe.each([
    ['IPv4', ADDR.vip4, ADDR.client4, ADDR.rs4],
    ['IPv6', ADDR.vip6, ADDR.client6, ADDR.rs6],
  ])('%s', (_fam, vip, client, rs) => {
    const host = vip.includes(':') ? `[${vip}]` : vip;

    it('a request-time reader and an accept-time banner see the client; the TOA completes the handshake; nothing rejected or retransmitted', async () => {
      const before = await netstat(lab, 'realserver');
      const spBefore = await synproxyStats(lab);
      const fixedBefore = (await lab.writerStatus()).counters.tsecr_fixed;
      const cap = await lab.capture('realserver', 'eth0', `tcp and host ${rs}`);
      // From the client's own address: the lab's extra addresses (the flood's, muted) would be picked for IPv6.
      const http = await lab.httpClient(['--url', `http://${host}:${HTTP}/`, '--count', String(CONNS), '--local', client]);
      const banners: { local: string; banner: string }[] = [];
      for (let i = 0; i < CONNS; i++) {
        const out = await lab.execOk('client', [
          process.execPath,
          '-e',
          `const s=require('net').connect({port:${BANNER},host:${JSON.stringify(vip)},localAddress:${JSON.stringify(client)}});` +
            `let b='';s.setEncoding('utf8');` +
            `s.on('data',d=>b+=d);s.on('end',()=>console.log(JSON.stringify({local:s.localAddress+' '+s.localPort,banner:b.trim()})));`,
        ]);
        banners.push(JSON.parse(out));
      }
      const segs = await cap.stop();
      const after = await netstat(lab, 'realserver');
      const spAfter = await synproxyStats(lab);

      // They went through SYNPROXY: one valid cookie per connection, and the writer fixed each one's handshake ACK.
      expect(spAfter.cookie_valid - spBefore.cookie_valid).toBe(2 * CONNS);
      expect((await lab.writerStatus()).counters.tsecr_fixed - fixedBefore).toBe(2 * CONNS);
      for (const r of http) {
        expect(r.error).toBeUndefined();
        expect(r.localAddress).toBe(client);
        expect(r.body.remoteAddress.replace(/^::ffff:/, '')).toBe(client);
        expect(r.body.remotePort).toBe(r.localPort);
      }
      for (const b of banners) {
        const [addr, port] = b.local.split(' ');
        expect(addr).toBe(client);
        expect(b.banner).toBe(`peer ${vip.includes(':') ? addr : `::ffff:${addr}`} ${port}`);
      }
      // On the wire at the real server: every connection's handshake is completed by a segment carrying the client.
      // A connection is its director port and service port: the director may give an HTTP and a banner connection the same port.
      const conns = [...new Set(segs.filter((s) => s.flags.syn && !s.flags.ack).map((s) => `${s.sport} ${s.dport}`))];
      expect(conns).toHaveLength(2 * CONNS);
      const clients = [...http.map((r) => r.localPort!), ...banners.map((b) => Number(b.local.split(' ')[1]))].sort();
      const seen: number[] = [];
      const sources: string[] = [];
      for (const conn of conns) {
        const [lport, port] = conn.split(' ').map(Number);
        const h = handshake(segs, lport, port);
        expect(h.synacks, `SYN-ACKs of ${lport}`).toHaveLength(1);
        expect(h.completing, `handshake ACK of ${lport}`).toBeDefined();
        expect(h.completing!.payloadLength).toBe(0);
        // It echoes the server's own timestamp (SYNPROXY's shifted one fixed by the writer), on every kernel.
        expect(tsecrOf(h.completing!), `TSecr of ${lport}`).toBe(tsvalOf(h.synacks[0]));
        const toa = toaOf(h.completing!);
        expect(toa?.addr).toBe(client);
        seen.push(toa!.port);
        sources.push(`${toa!.addr} ${toa!.port}`);
      }
      expect(seen.sort()).toEqual(clients);
      expect(sources.sort()).toEqual([...http.map((r) => `${r.localAddress} ${r.localPort}`), ...banners.map((b) => b.local)].sort());
      // The real server refused nothing and resent nothing.
      // A close the veth reordered is a TIME_WAIT PAWS drop, which kernels before PAWSTimewait (6.15) count in
      // PAWSEstab: at most as many as the capture shows, and none where the kernel counts them apart.
      const reordered = reorderedCloses(segs);
      const twCounter = 'TcpExtPAWSTimewait' in after ? 'TcpExtPAWSTimewait' : 'TcpExtPAWSEstab';
      const why = `the segments at the real server:\n${describe_(segs)}`;
      for (const k of ['TcpExtTSEcrRejected', 'TcpRetransSegs', 'TcpExtTCPSynRetrans', 'TcpExtPAWSEstab', 'TcpInErrs']) {
        if (k !== twCounter) expect((after[k] ?? 0) - (before[k] ?? 0), `${k}; ${why}`).toBe(0);	// TSEcrRejected: Linux 6.8+
      }
      expect((after[twCounter] ?? 0) - (before[twCounter] ?? 0), `${twCounter}; ${why}`).toBeLessThanOrEqual(reordered);
    });
  });

  it("the director's own connection to the real server (not to a VIP) gets no TOA", async () => {
    const before = (await lab.writerStatus()).counters;
    const [r] = await lab.httpClient(['--url', `http://${ADDR.rs4}:${HTTP}/`], 'director');
    const after = (await lab.writerStatus()).counters;
    expect(r.error).toBeUndefined();
    expect(r.body.remoteAddress.replace(/^::ffff:/, '')).toBe(ADDR.lip4);
    expect(after.rs_no_conntrack - before.rs_no_conntrack).toBe(1);
    expect(after.rs_flow_new - before.rs_flow_new).toBe(0);
    expect(after.written_v4 - before.written_v4).toBe(0);
  });

  it('a bounded spoofed SYN flood: legitimate clients all succeed and are named; no writer state, no real-server socket from it', async () => {
    const stBefore = await lab.writerStatus();
    const rsBefore = await netstat(lab, 'realserver');
    const spBefore = await synproxyStats(lab);
    const sources = Array.from({ length: SPOOFED }, (_, i) => ['--src', extraClient4(i)]).flat();
    const flood = lab.execOk('client', [SYNFLOOD, '--dst', ADDR.vip4, '--port', String(HTTP), ...sources, '--count', '400000', '--seconds', '4'], {
      timeoutMs: 30_000,
    });
    // Legitimate clients while it runs: 40 connections, 2 at a time.
    await new Promise((r) => setTimeout(r, 300));
    const legit = lab.httpClient(['--url', `http://${ADDR.vip4}:${HTTP}/`, '--count', '40', '--concurrency', '2'], 'client', 60_000);
    await new Promise((r) => setTimeout(r, 1000));
    const during = await lab.writerStatus();
    const halfOpen = (await lab.execOk('realserver', ['ss', '-Htn', 'state', 'syn-recv'])).trim();
    const [stats, results] = await Promise.all([flood.then((o) => JSON.parse(o)), legit]);
    const stAfter = await lab.writerStatus();
    const rsAfter = await netstat(lab, 'realserver');
    const spAfter = await synproxyStats(lab);

    expect(stats.sent).toBeGreaterThan(10_000);
    expect(spAfter.syn_received - spBefore.syn_received).toBeGreaterThan(10_000);
    for (const r of results) {
      expect(r.error).toBeUndefined();
      expect(r.body.remoteAddress.replace(/^::ffff:/, '')).toBe(ADDR.client4);
      expect(r.body.remotePort).toBe(r.localPort);
    }
    // Writer state: none on the client side; one real-server flow per legitimate connection at most, short-lived.
    expect(during.flows.used).toBe(0);
    expect(during.rs.flows.used).toBeLessThanOrEqual(4);
    expect(stAfter.counters.flow_new - stBefore.counters.flow_new).toBe(0);
    expect(stAfter.counters.rs_flow_new - stBefore.counters.rs_flow_new).toBe(results.length);
    // The real server saw only the legitimate connections.
    expect(halfOpen).toBe('');
    expect(rsAfter.TcpPassiveOpens - rsBefore.TcpPassiveOpens).toBe(results.length);
    // eslint-disable-next-line no-console
    console.log(`flood: ${stats.sent} spoofed SYNs in ${stats.seconds} s (${stats.rate}/s); ${results.length}/40 legitimate connections`);
  }, 90_000);

  it('attach from a config file with rs-dev, re-attach without it, detach: nothing of the real-server side is left', async () => {
    const dir = join(lab.pinDir, 'director');
    const rsPins = ['rs_ingress', 'rs_egress', 'rsflows'];
    const conf = join(tmpdir(), `${lab.id}-director.conf`);
    writeFileSync(conf, `dev = cli0\nrs-dev = rs0\nvip = ${endpoint(ADDR.vip4, HTTP)} ${endpoint(ADDR.vip6, HTTP)}\n`);
    try {
      const a = await lab.toaBpf(['director', 'attach', '--config', conf]);
      expect(a.code, a.stderr).toBe(0);
      expect((await lab.writerStatus()).rs).toMatchObject({ device: 'rs0', filters: { ingress: true, egress: true } });
      for (const p of rsPins) expect(existsSync(join(dir, p)), p).toBe(true);
      const b = await lab.toaBpf(['director', 'attach', '--dev', 'cli0', '--vip', endpoint(ADDR.vip4, HTTP)]);
      expect(b.code, b.stderr).toBe(0);
      expect((await lab.writerStatus()).rs).toBeNull();
      for (const p of [...rsPins, 'rs']) expect(existsSync(join(dir, p)), p).toBe(false);
      const tc = await lab.execOk('director', ['bpftool', 'net', 'show', 'dev', 'rs0']);
      expect(tc).not.toMatch(/toa_rs/);
      const c = await lab.toaBpf(['director', 'attach', '--config', conf]);
      expect(c.code, c.stderr).toBe(0);
      const d = await lab.toaBpf(['director', 'detach']);
      expect(d.code, d.stderr).toBe(0);
      expect(existsSync(dir)).toBe(false);
      expect(await lab.execOk('director', ['bpftool', 'net', 'show', 'dev', 'rs0'])).not.toMatch(/toa_rs/);
    } finally {
      rmSync(conf, { force: true });
    }
  });
});
