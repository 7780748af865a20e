/**
 * The writer's checksums on every skb kind the kernel can give it through
 * BPF_PROG_TEST_RUN: CHECKSUM_NONE (the packet's sums alone) and
 * CHECKSUM_COMPLETE (skb->csum, a sum over the packet that NICs such as mlx5
 * report and that veth never produces; the kernel recomputes it after the run
 * and fails it with EBADMSG when the program left it wrong). Every write path
 * runs, both families: the SYN-ACK's MSS clamp (Linux's layout and the
 * general walk), the fast insertion, the insertion that moves the payload
 * (IPv4 options, IPv6 extension headers), the strip (of a forged TOA, and of
 * a malformed option and all after it). CHECKSUM_PARTIAL cannot
 * be made by a test run; the lab's offload test covers it with real skbs.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADDR, createLab, labUnavailable, tcpOptions, type Lab, type TcpSegment } from '../lab/index.js';
import { parsePcap } from '../lab/pcap.js';
import { addrBytes, ensureCraft, toaHex } from '../tools/craft.js';

const TESTRUN = join(import.meta.dirname, '../tools/build/toa-testrun');
const TC_ACT_UNSPEC = -1;
const PORT = 80;
const why = labUnavailable();

interface Seg {
  family: 4 | 6;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  flags: number;
  opts?: string;
  payload?: Buffer;
  /** IPv4 options (hex), or an IPv6 Destination Options header before TCP (any value). */
  ipOpts?: string;
  ext6?: boolean;
}

const SYN = 0x02;
const ACK = 0x10;
const PSH = 0x08;

function sum16(b: Buffer, acc = 0): number {
  let s = acc;
  for (let i = 0; i + 1 < b.length; i += 2) s += b.readUInt16BE(i);
  if (b.length & 1) s += b[b.length - 1] << 8;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/** An Ethernet frame carrying one TCP segment with right checksums. */
function frame(s: Seg): Buffer {
  const opts = Buffer.from(s.opts ?? '', 'hex');
  const payload = s.payload ?? Buffer.alloc(0);
  const tcp = Buffer.alloc(20 + opts.length);
  tcp.writeUInt16BE(s.sport, 0);
  tcp.writeUInt16BE(s.dport, 2);
  tcp.writeUInt32BE(s.seq >>> 0, 4);
  tcp.writeUInt32BE(s.ack >>> 0, 8);
  tcp[12] = ((20 + opts.length) / 4) << 4;
  tcp[13] = s.flags;
  tcp.writeUInt16BE(64240, 14);
  opts.copy(tcp, 20);
  const seg = Buffer.concat([tcp, payload]);
  const src = addrBytes(s.src);
  const dst = addrBytes(s.dst);
  const lenBuf = Buffer.alloc(4);
  lenBuf.writeUInt32BE(seg.length);
  const pseudo = s.family === 4 ? sum16(Buffer.concat([src, dst, Buffer.from([0, 6]), lenBuf.subarray(2)])) : sum16(Buffer.concat([src, dst, lenBuf, Buffer.from([0, 0, 0, 6])]));
  seg.writeUInt16BE(~sum16(seg, pseudo) & 0xffff, 16);
  const eth = Buffer.from(`020000000001020000000002${s.family === 4 ? '0800' : '86dd'}`, 'hex');
  if (s.family === 4) {
    const ipOpts = Buffer.from(s.ipOpts ?? '', 'hex');
    const ip = Buffer.alloc(20 + ipOpts.length);
    ip[0] = 0x40 | (ip.length / 4);
    ip.writeUInt16BE(ip.length + seg.length, 2);
    ip.writeUInt16BE(0x4000, 6);
    ip[8] = 64;
    ip[9] = 6;
    src.copy(ip, 12);
    dst.copy(ip, 16);
    ipOpts.copy(ip, 20);
    ip.writeUInt16BE(~sum16(ip) & 0xffff, 10);
    return Buffer.concat([eth, ip, seg]);
  }
  const ext = s.ext6 ? Buffer.from('0600010400000000', 'hex') : Buffer.alloc(0); // Destination Options: PadN
  const ip = Buffer.alloc(40);
  ip[0] = 0x60;
  ip.writeUInt16BE(ext.length + seg.length, 4);
  ip[6] = s.ext6 ? 60 : 6;
  ip[7] = 64;
  src.copy(ip, 8);
  dst.copy(ip, 24);
  return Buffer.concat([eth, ip, ext, seg]);
}

/** The TCP segment in a frame, with checksum verdicts (the lab's pcap reader, on a one-packet pcap). */
function segmentOf(f: Buffer): TcpSegment & { ext6: boolean } {
  const hdr = Buffer.alloc(24 + 16);
  hdr.writeUInt32LE(0xa1b2c3d4, 0);
  hdr.writeUInt16LE(2, 4);
  hdr.writeUInt16LE(4, 6);
  hdr.writeUInt32LE(65535, 16);
  hdr.writeUInt32LE(1, 20);
  hdr.writeUInt32LE(f.length, 24 + 8);
  hdr.writeUInt32LE(f.length, 24 + 12);
  // The reader skips IPv6 extension headers' packets: hand it the packet without the (8-byte) one, fixed up.
  let g = f;
  const ext6 = f.readUInt16BE(12) === 0x86dd && f[14 + 6] === 60;
  if (ext6) {
    g = Buffer.concat([f.subarray(0, 54), f.subarray(62)]);
    g[14 + 6] = f[54];
    g.writeUInt16BE(f.readUInt16BE(18) - 8, 18);
  }
  const [seg] = parsePcap(Buffer.concat([hdr, g]));
  return { ...seg, ext6 };
}

describe.skipIf(why)(`director: checksums under BPF_PROG_TEST_RUN${why ? ` (skipped: ${why})` : ''}`, () => {
  let lab: Lab;
  let nextPort = 40000;

  const run = (dir: 'ingress' | 'egress', f: Buffer, complete: boolean): { retval?: number; frame?: string; error?: string } =>
    JSON.parse(execFileSync(TESTRUN, [...(complete ? ['--complete'] : []), join(lab.pinDir, 'director', dir), f.toString('hex')]).toString());
  const counters = async (): Promise<Record<string, number>> => (await lab.writerStatus()).counters;

  beforeAll(async () => {
    ensureCraft();
    lab = await createLab();
    await lab.attachWriter({ ports: [PORT] });
    // A kernel before 6.11 has no BPF_F_TEST_SKB_CHECKSUM_COMPLETE: say so instead of failing obscurely.
    const probe = run('egress', frame({ family: 4, src: ADDR.client4, dst: ADDR.vip4, sport: 1, dport: 1, seq: 0, ack: 0, flags: ACK }), true);
    if (probe.error) throw new Error(`BPF_F_TEST_SKB_CHECKSUM_COMPLETE unavailable: ${probe.error} (Linux 6.11+)`);
  }, 60_000);

  afterAll(async () => {
    await lab?.destroy();
  });

  describe.each([
    ['IPv4', 4, ADDR.client4, ADDR.vip4, 8],
    ['IPv6', 6, ADDR.client6, ADDR.vip6, 20],
  ] as const)('%s', (_n, family, client, vip, room) => {
    it.each([
      ['CHECKSUM_NONE', false],
      ['CHECKSUM_COMPLETE', true],
    ] as const)('%s: MSS clamp, fast insertion, moved insertion and strip leave every checksum right', async (_m, complete) => {
      const cport = nextPort++;
      const isn = 0x10000000 + cport;
      const toa = { kind: 254, len: room, body: Buffer.from(toaHex(family === 4 ? 'v4' : 'v6', client, cport), 'hex').subarray(2) };
      const forged = toaHex(family === 4 ? 'v4' : 'v6', family === 4 ? ADDR.stranger4 : ADDR.stranger6, 4321);
      const c0 = await counters();
      const ok = (r: ReturnType<typeof run>, what: string): TcpSegment & { ext6: boolean } => {
        expect([what, r.error]).toEqual([what, undefined]);
        expect([what, r.retval]).toEqual([what, TC_ACT_UNSPEC]);
        const s = segmentOf(Buffer.from(r.frame!, 'hex'));
        expect([what, s.tcpChecksumOk, s.ipChecksumOk ?? true]).toEqual([what, true, true]);
        return s;
      };
      const fromServer = { family, src: vip, dst: client, sport: PORT, dport: cport } as const;
      const fromClient = { family, src: client, dst: vip, sport: cport, dport: PORT } as const;

      // The SYN-ACK's MSS, in Linux's layout (the shortcut) and alone (the options walk).
      const linux = run('egress', frame({ ...fromServer, seq: isn, ack: 1, flags: SYN | ACK, opts: '020405b40402080a000000010000000001030307' }), complete);
      expect(ok(linux, 'SYN-ACK, Linux layout').mss).toBe(1460 - room);
      const alone = run('egress', frame({ ...fromServer, seq: isn, ack: 1, flags: SYN | ACK, opts: '020405b4' }), complete);
      expect(ok(alone, 'SYN-ACK, MSS alone').mss).toBe(1460 - room);

      // The handshake ACK: the fast insertion.
      const hs = ok(run('ingress', frame({ ...fromClient, seq: 1, ack: isn + 1, flags: ACK, opts: '0101080a0000000200000001' }), complete), 'handshake ACK');
      expect(tcpOptions(hs.options)).toEqual([toa, { kind: 8, len: 10, body: Buffer.from('0000000200000001', 'hex') }]);

      // A request carrying a forged TOA: stripped, then the fast insertion.
      const req = ok(
        run('ingress', frame({ ...fromClient, seq: 1, ack: isn + 1, flags: ACK | PSH, opts: forged, payload: Buffer.from('GET / HTTP/1.0\r\n\r\n') }), complete),
        'request with a forged TOA',
      );
      expect(tcpOptions(req.options)).toEqual([toa]);
      expect(req.payloadLength).toBe(18);

      // Headers the fast insertion cannot move (IPv4 options, an IPv6 extension header): the payload moves.
      // Growing the skb for it (bpf_skb_change_tail) makes the kernel turn CHECKSUM_COMPLETE into
      // CHECKSUM_NONE (__skb_grow_rcsum): skb->csum no longer counts, and the run's comparison of it
      // does not apply, so this one runs as NONE in both cases (as the kernel then treats it).
      const moved = run(
        'ingress',
        frame({ ...fromClient, seq: 19, ack: isn + 1, flags: ACK | PSH, opts: forged, payload: Buffer.alloc(1000, 7), ipOpts: '01010100', ext6: true }),
        false,
      );
      const mv = ok(moved, 'moved insertion');
      expect(tcpOptions(mv.options)).toEqual([toa]);
      expect(mv.payloadLength).toBe(1000);
      expect(mv.ext6).toBe(family === 6);

      // No flow (the SYN-ACK never seen): the strip alone.
      const other = nextPort++;
      const strip = ok(run('ingress', frame({ ...fromClient, sport: other, seq: 1, ack: 5, flags: ACK, opts: forged }), complete), 'strip');
      expect(tcpOptions(strip.options)).toEqual([]);

      // A malformed option (length 1) and a forged TOA behind it: TCP ignores options from there on, and
      // the writer leaves no reader anything to find there.
      const mal = ok(run('ingress', frame({ ...fromClient, sport: other, seq: 1, ack: 5, flags: ACK, opts: `01010501${forged}` }), complete), 'malformed');
      expect(Buffer.from(mal.options).toString('hex')).toBe('01'.repeat(4 + forged.length / 2));

      const d = await counters();
      const n = (k: string) => d[k] - c0[k];
      expect({ clamped: n('mss_clamped'), fast: n('written_fast'), moved: n('written_moved'), stripped: n('forged_stripped'), err: n('helper_err') }).toEqual({
        clamped: 2,
        fast: 2,
        moved: 1,
        stripped: 4,
        err: 0,
      });
    });
  });
});
