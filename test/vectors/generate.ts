// Writes toa-options.json, the vector file every TOA parser is checked against.
// Edit the cases here, then run `npx tsx test/vectors/generate.ts`; a unit test
// fails when the JSON and this file disagree.
//
// Expectations are written by hand from DESIGN.md and toa_parse() in
// include/toa/toa_wire.h; the byte builders below are deliberately separate
// from node-toa/src/wire.ts so the vectors never check an encoder against itself.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import type { DialectName as Dialect, ParseVector as ParseCase, RecordVector as RecordCase, VectorExpect as Expect } from './vectors.js';

type Bytes = number[];

const ALL: Dialect[] = ['v4', 'v6', 'v6-ali', 'v4-253', 'v4-200', 'cdn', 'cdn6'];

// ---- byte builders -------------------------------------------------------

const u16 = (v: number): Bytes => [(v >> 8) & 0xff, v & 0xff];
const u32 = (v: number): Bytes => [...u16(v >>> 16), ...u16(v & 0xffff)];

function ip4(s: string): Bytes {
  const p = s.split('.').map(Number);
  if (p.length !== 4 || p.some((n) => !(n >= 0 && n <= 255))) throw new Error(`bad IPv4 ${s}`);
  return p;
}

function ip6(s: string): Bytes {
  let tail: Bytes = [];
  const dotted = s.match(/^(.*:)(\d+\.\d+\.\d+\.\d+)$/);
  if (dotted) {
    s = `${dotted[1]}0:0`;
    tail = ip4(dotted[2]!);
  }
  const [head, rest] = s.split('::') as [string, string | undefined];
  const groups = (x: string | undefined) => (x ? x.split(':').map((g) => parseInt(g, 16)) : []);
  const h = groups(head);
  const r = groups(rest);
  const words = rest === undefined ? h : [...h, ...new Array(8 - h.length - r.length).fill(0), ...r];
  if (words.length !== 8) throw new Error(`bad IPv6 ${s}`);
  const out = words.flatMap(u16);
  if (tail.length) out.splice(12, 4, ...tail);
  return out;
}

const NOP: Bytes = [1];
const EOL: Bytes = [0];
const nops = (n: number): Bytes => new Array(n).fill(1);
const zeros = (n: number): Bytes => new Array(n).fill(0);
const mss = (v: number): Bytes => [2, 4, ...u16(v)];
const sackOk: Bytes = [4, 2];
const ws = (n: number): Bytes => [3, 3, n];
const ts = (val: number, ecr: number): Bytes => [8, 10, ...u32(val), ...u32(ecr)];
const sack = (...blocks: [number, number][]): Bytes => [5, 2 + 8 * blocks.length, ...blocks.flatMap(([l, r]) => [...u32(l), ...u32(r)])];
const uto = (v: number): Bytes => [28, 4, ...u16(v)];
const md5: Bytes = [19, 18, ...Array.from({ length: 16 }, (_, i) => 0xa0 + i)];
/** MPTCP MP_CAPABLE on the third ACK: subtype 0 version 1, flags, both 8-byte keys. */
const mptcpCapableAck: Bytes = [30, 20, 0x01, 0x81, ...u32(0x11223344), ...u32(0x55667788), ...u32(0x99aabbcc), ...u32(0xddeeff00)];
const tfoCookie: Bytes = [34, 10, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04];
/** Another RFC 6994 experiment on kind 254: the experimental Fast Open cookie request (magic 0xf989). */
const tfoExpRequest: Bytes = [254, 4, 0xf9, 0x89];
const raw = (...b: number[]): Bytes => b;

/** Linux SYN option block: MSS, SACK-permitted, timestamps, NOP, window scale (20 bytes). */
const linuxSyn: Bytes = [...mss(1460), ...sackOk, ...ts(0x5a0b1c2d, 0), ...NOP, ...ws(7)];
/** Linux ACK option block: NOP NOP timestamps (12 bytes). */
const linuxAck: Bytes = [...NOP, ...NOP, ...ts(0x5a0b1c99, 0x1f2e3d4c)];

const v4 = (addr: string, port: number, kind = 254): Bytes => [kind, 8, ...u16(port), ...ip4(addr)];
const v6 = (addr: string, port: number, kind = 254): Bytes => [kind, 20, ...u16(port), ...ip6(addr)];
const cdn = (addr: string, version = 1): Bytes => [28, 7, version, ...ip4(addr)];
const cdn6 = (addr: string, version = 1): Bytes => [28, 19, version, ...ip6(addr)];
/** A TOA-kind option of any length, body filled with a recognisable pattern. */
const badLen = (kind: number, len: number): Bytes => [kind, len, ...Array.from({ length: Math.max(0, len - 2) }, (_, i) => (0x40 + i) & 0xff)];

/** Options joined with two spaces, bytes with one, so a reader sees the option boundaries. */
function hex(...opts: Bytes[]): string {
  return opts
    .filter((o) => o.length)
    .map((o) => o.map((b) => b.toString(16).padStart(2, '0')).join(' '))
    .join('  ');
}

const C4 = '198.51.100.10';
const C6 = '2001:db8:100::10';
const ok4 = (port: number, address = C4, dialect: Dialect = 'v4'): Expect => ({ status: 'ok', dialect, family: 4, address, port });
const ok6 = (port: number, address = C6, dialect: Dialect = 'v6'): Expect => ({ status: 'ok', dialect, family: 6, address, port });
const st = (status: Exclude<Expect['status'], 'ok'>): Expect => ({ status });

// ---- parse cases -----------------------------------------------------------

function parseCases(): ParseCase[] {
  const c: ParseCase[] = [];
  const add = (name: string, bytes: Bytes[], expect: Expect, accept?: Dialect[]) => {
    const total = bytes.reduce((n, b) => n + b.length, 0);
    if (total > 41) throw new Error(`${name}: ${total} bytes`);
    c.push({ name, hex: hex(...bytes), ...(accept ? { accept } : {}), expect });
  };

  // Default dialects, alone and in the option mixes Linux sends.
  add('v4 alone', [v4(C4, 40000)], ok4(40000));
  add('v4 first, then NOP NOP timestamps (handshake ACK as the director writes it)', [v4(C4, 40000), linuxAck], ok4(40000));
  add('v4 after NOP NOP timestamps', [linuxAck, v4(C4, 40000)], ok4(40000));
  add('v4 between timestamps and a SACK block', [linuxAck, v4(C4, 40001), NOP, NOP, sack([1000, 2000])], ok4(40001));
  add('v4 in a SYN-style mix (MSS, SACK-permitted, timestamps, window scale)', [v4(C4, 40002), linuxSyn], ok4(40002));
  add('v4 then EOL and zero padding', [v4(C4, 40003), EOL, zeros(3)], ok4(40003));
  add('v4 after three NOPs', [nops(3), v4(C4, 40004)], ok4(40004));
  add('v4 after 32 NOPs fills 40 bytes', [nops(32), v4(C4, 40005)], ok4(40005));
  add('v4 then 32 NOPs fills 40 bytes', [v4(C4, 40006), nops(32)], ok4(40006));
  add('v4 after an MD5 signature option', [md5, v4(C4, 40007)], ok4(40007));
  add('v4 after an MPTCP MP_CAPABLE option', [mptcpCapableAck, v4(C4, 40008)], ok4(40008));
  add('v4 after a Fast Open cookie (kind 34)', [tfoCookie, v4(C4, 40009)], ok4(40009));
  add('v4 with User Timeout (28/4) beside it', [uto(600), v4(C4, 40010)], ok4(40010));
  add('v4 port 65535', [v4('192.0.2.1', 65535)], ok4(65535, '192.0.2.1'));
  add('v4 address 255.255.255.254 (not broadcast)', [v4('255.255.255.254', 2)], ok4(2, '255.255.255.254'));
  add('v4 port 1 (byte order)', [v4('192.0.2.1', 1)], ok4(1, '192.0.2.1'));
  add('v4 port 256 (byte order)', [v4('192.0.2.1', 256)], ok4(256, '192.0.2.1'));
  add('v6 alone', [v6(C6, 51234)], ok6(51234));
  add('v6 first, then NOP NOP timestamps', [v6(C6, 51235), linuxAck], ok6(51235));
  add('v6 after NOP NOP timestamps', [linuxAck, v6(C6, 51236)], ok6(51236));
  add('v6 with NOP NOP and a two-block SACK fills 40 bytes', [v6(C6, 51237), NOP, NOP, sack([1, 2], [3, 4])], ok6(51237));
  add('v6 in a SYN-style mix fills 40 bytes', [v6(C6, 51238), linuxSyn], ok6(51238));
  add('v6-ali alone', [v6(C6, 51239, 253)], ok6(51239, C6, 'v6-ali'));
  add('v6-ali then NOP NOP timestamps', [v6(C6, 51240, 253), linuxAck], ok6(51240, C6, 'v6-ali'));
  add('v6-ali after NOP NOP timestamps', [linuxAck, v6(C6, 51241, 253)], ok6(51241, C6, 'v6-ali'));

  // IPv6 text form: inet_ntop's, which is RFC 5952 (lowercase, no leading zeros, longest
  // run of two or more zero groups as ::, the first on a tie) with IPv4-mapped and
  // IPv4-compatible addresses in dotted form, as Node's socket.remoteAddress shows them.
  add('v6 address with no zero group', [v6('2001:db8:1:2:3:4:5:6', 80)], ok6(80, '2001:db8:1:2:3:4:5:6'));
  add('v6 address: one zero group is not compressed', [v6('2001:db8:0:1:1:1:1:1', 80)], ok6(80, '2001:db8:0:1:1:1:1:1'));
  add('v6 address: the longest zero run is compressed', [v6('2001:0:0:1:0:0:0:1', 80)], ok6(80, '2001:0:0:1::1'));
  add('v6 address: the first of two equal zero runs is compressed', [v6('2001:db8:0:0:1:0:0:1', 80)], ok6(80, '2001:db8::1:0:0:1'));
  add('v6 address: trailing zero run', [v6('2001:db8::', 80)], ok6(80, '2001:db8::'));
  add('v6 address: lowercase hex, leading zeros dropped', [v6('2001:DB8:ABCD:EF:A:B::C', 80)], ok6(80, '2001:db8:abcd:ef:a:b:0:c'));
  add('v6 address: IPv4-compatible (deprecated) in dotted form', [v6('::1.2.3.4', 80)], ok6(80, '::1.2.3.4'));
  add('v6 address: link-local', [v6('fe80::1', 443)], ok6(443, 'fe80::1'));

  // Addresses no client can have: what Linux drops as a martian source. A director bug or a
  // bypass must never put these in front of an application (loopback is often privileged).
  add('v4 address 0.0.0.0', [v4('0.0.0.0', 80)], st('address'));
  add('v4 address 0.1.2.3 (0.0.0.0/8, "this network")', [v4('0.1.2.3', 80)], st('address'));
  add('v4 address 127.0.0.1', [v4('127.0.0.1', 80)], st('address'));
  add('v4 address 127.255.255.254', [v4('127.255.255.254', 80)], st('address'));
  add('v4 address 224.0.0.1 (multicast)', [v4('224.0.0.1', 80)], st('address'));
  add('v4 address 239.255.255.255 (multicast)', [v4('239.255.255.255', 80)], st('address'));
  add('v4 address 255.255.255.255 (broadcast)', [v4('255.255.255.255', 80)], st('address'));
  add('v4 address 240.0.0.1 (reserved, but routed by Linux): a client', [v4('240.0.0.1', 80)], ok4(80, '240.0.0.1'));
  add('v4 address 223.255.255.255 (below multicast): a client', [v4('223.255.255.255', 80)], ok4(80, '223.255.255.255'));
  add('v4 address 1.0.0.0 (above 0/8): a client', [v4('1.0.0.0', 80)], ok4(80, '1.0.0.0'));
  add('v4 address 128.0.0.0 (above 127/8): a client', [v4('128.0.0.0', 80)], ok4(80, '128.0.0.0'));
  add('v4-253 address 127.0.0.1', [v4('127.0.0.1', 80, 253)], st('address'), ['v4-253']);
  add('v4-200 address 0.0.0.0', [v4('0.0.0.0', 80, 200)], st('address'), ['v4-200']);
  add('cdn address 127.0.0.1', [cdn('127.0.0.1')], st('address'), ['cdn']);
  add('cdn address 224.1.2.3', [cdn('224.1.2.3')], st('address'), ['cdn']);
  add('v6 address :: (unspecified)', [v6('::', 80)], st('address'));
  add('v6 address ::1 (loopback)', [v6('::1', 80)], st('address'));
  add('v6 address ff02::1 (multicast)', [v6('ff02::1', 80)], st('address'));
  add('v6 address ff00:: (multicast, lowest)', [v6('ff00::', 80)], st('address'));
  add('v6 address feff:: (just below multicast): a client', [v6('feff::', 80)], ok6(80, 'feff::'));
  add('v6 address ::2: a client', [v6('::2', 80)], ok6(80, '::2'));
  add('v6-ali address ::1', [v6('::1', 80, 253)], st('address'));
  add('cdn6 address ff0e::1', [cdn6('ff0e::1')], st('address'), ['cdn6']);
  add('cdn6 address ::', [cdn6('::')], st('address'), ['cdn6']);
  // IPv4-mapped in a v6 dialect is an IPv4 client, and judged as one.
  add('v6 address ::ffff:198.51.100.10: the IPv4 client', [v6('::ffff:198.51.100.10', 80)], ok4(80, C4, 'v6'));
  add('v6-ali address ::ffff:203.0.113.7: the IPv4 client', [v6('::ffff:203.0.113.7', 81, 253)], ok4(81, '203.0.113.7', 'v6-ali'));
  add('cdn6 address ::ffff:198.51.100.10: the IPv4 client', [cdn6('::ffff:198.51.100.10')], ok4(0, C4, 'cdn6'), ['cdn6']);
  add('v6 address ::ffff:127.0.0.1', [v6('::ffff:127.0.0.1', 80)], st('address'));
  add('v6 address ::ffff:0.0.0.0', [v6('::ffff:0.0.0.0', 80)], st('address'));
  add('v6 address ::ffff:255.255.255.255', [v6('::ffff:255.255.255.255', 80)], st('address'));
  add('v6 address ::ffff:224.0.0.5', [v6('::ffff:224.0.0.5', 80)], st('address'));
  add('v6 address ::fffe:127.0.0.1 is not mapped: an IPv6 client', [v6('::fffe:127.0.0.1', 80)], ok6(80, '::fffe:7f00:1'));
  add('v6 address 1::ffff:127.0.0.1 is not mapped: an IPv6 client', [v6('1::ffff:127.0.0.1', 80)], ok6(80, '1::ffff:7f00:1'));
  // Port 0 in a dialect that carries a port: with the socket's own port it would be a pair that never existed.
  add('v4 port 0', [v4(C4, 0)], st('port'));
  add('v6 port 0', [v6(C6, 0)], st('port'));
  add('v6-ali port 0', [v6(C6, 0, 253)], st('port'));
  add('v4-253 port 0', [v4(C4, 0, 253)], st('port'), ['v4-253']);
  add('v4-200 port 0', [v4(C4, 0, 200)], st('port'), ['v4-200']);
  add('v4 port 0 and address 0.0.0.0: port is checked first', [v4('0.0.0.0', 0)], st('port'));
  add('v4 port 0 is ignored when v4 is not accepted', [v4(C4, 0)], st('absent'), ['v6']);
  add('v4 port 0 beside a second v4: multiple', [v4(C4, 0), v4(C4, 1)], st('multiple'));

  // Opt-in dialects: decoded when accepted, ignored (an unknown option) when not.
  add('v4-253 accepted', [v4(C4, 40100, 253)], ok4(40100, C4, 'v4-253'), ['v4-253']);
  add('v4-253 ignored by the default accept list', [v4(C4, 40101, 253)], st('absent'));
  add('v4-253 ignored by default beside v6-ali, which is used', [v4(C4, 40102, 253), v6(C6, 40103, 253)], ok6(40103, C6, 'v6-ali'));
  add('v4-200 accepted', [linuxAck, v4(C4, 40104, 200)], ok4(40104, C4, 'v4-200'), ['v4-200']);
  add('v4-200 ignored by the default accept list', [v4(C4, 40105, 200)], st('absent'));
  add('v4-200 ignored by default beside v4, which is used', [v4(C4, 40106), v4('203.0.113.66', 1, 200)], ok4(40106));
  add('cdn accepted (no port: port 0)', [cdn(C4)], ok4(0, C4, 'cdn'), ['cdn']);
  add('cdn accepted after NOP NOP timestamps', [linuxAck, cdn('203.0.113.7')], ok4(0, '203.0.113.7', 'cdn'), ['cdn', 'cdn6']);
  add('cdn ignored by the default accept list', [cdn(C4)], st('absent'));
  add('cdn6 accepted', [cdn6(C6)], ok6(0, C6, 'cdn6'), ['cdn6']);
  add('cdn6 ignored by the default accept list', [cdn6(C6)], st('absent'));
  add('User Timeout (28/4) is never TOA, even with every dialect accepted', [uto(300)], st('absent'), ALL);
  add('User Timeout beside cdn: cdn is used', [uto(300), cdn(C4)], ok4(0, C4, 'cdn'), ALL);
  add('every dialect accepted: v4 still decodes', [linuxAck, v4(C4, 40107)], ok4(40107), ALL);
  add('empty accept list: v4 is just an unknown option', [v4(C4, 40108)], st('absent'), []);
  add('accept v6 only: 254/8 is ignored', [v4(C4, 40109)], st('absent'), ['v6']);
  add('accept v4 only: 254/20 is ignored', [v6(C6, 40110)], st('absent'), ['v4']);
  add('accept v4 only: 254/8 decodes', [v4(C4, 40111)], ok4(40111), ['v4']);
  add('accept v6-ali only: 254 options are ignored', [v4(C4, 1), v6(C6, 2)], st('absent'), ['v6-ali']);
  add('cdn version 0', [cdn(C4, 0)], st('version'), ['cdn']);
  add('cdn version 2', [cdn(C4, 2)], st('version'), ['cdn']);
  add('cdn6 version 255', [cdn6(C6, 255)], st('version'), ['cdn6']);
  add('cdn version 2 is ignored when cdn is not accepted', [cdn(C4, 2)], st('absent'));
  add('cdn version 2 beside an unaccepted v4: version', [v4(C4, 1), cdn(C4, 2)], st('version'), ['cdn']);

  // Lengths that no dialect of a TOA kind has.
  add('254 with length 7', [badLen(254, 7)], st('length'));
  add('254 with length 9', [badLen(254, 9)], st('length'));
  add('254 with length 19', [badLen(254, 19)], st('length'));
  add('254 with length 21', [badLen(254, 21)], st('length'));
  add('254 with length 2 (no body)', [badLen(254, 2)], st('length'));
  add('254 with length 40 filling the area', [badLen(254, 40)], st('length'));
  add('254 used by another RFC 6994 experiment (Fast Open cookie request, 254/4)', [linuxSyn.slice(0, 16), tfoExpRequest], st('length'));
  add('254 with a bad length is ignored when neither v4 nor v6 is accepted', [badLen(254, 12)], st('absent'), ['v6-ali', 'v4-200']);
  add('253 with length 9', [badLen(253, 9)], st('length'));
  add('253 with length 18', [badLen(253, 18)], st('length'));
  add('253 with length 12 under v4-253 only', [badLen(253, 12)], st('length'), ['v4-253']);
  add('200 with length 9 when v4-200 is accepted', [badLen(200, 9)], st('length'), ['v4-200']);
  add('200 with length 20 when every dialect is accepted', [badLen(200, 20)], st('length'), ALL);
  add('200 with length 9 is ignored by the default accept list', [badLen(200, 9)], st('absent'));
  add('28 with length 8 when cdn is accepted', [badLen(28, 8)], st('length'), ['cdn']);
  add('28 with length 3 when cdn is accepted', [badLen(28, 3)], st('length'), ['cdn']);
  add('28 with length 20 when cdn6 is accepted', [badLen(28, 20)], st('length'), ['cdn6']);
  add('28 with length 8 is ignored by the default accept list', [badLen(28, 8)], st('absent'));
  add('a bad length before a good v4: length', [badLen(254, 9), v4(C4, 1)], st('length'));
  add('a good v4 before a bad length: length', [v4(C4, 1), badLen(253, 10)], st('length'));

  // Options that run past the end of the area.
  add('v4 cut after 6 bytes', [v4(C4, 40000).slice(0, 6)], st('truncated'));
  add('v6 running 2 bytes past a 40-byte area', [linuxAck, nops(10), v6(C6, 1).slice(0, 18)], st('truncated'));
  add('MSS cut after 3 bytes', [mss(1460).slice(0, 3)], st('truncated'));
  add('a TOA kind in the last byte, no length byte', [nops(3), raw(254)], st('truncated'));
  add('an MSS kind alone, no length byte', [raw(2)], st('truncated'));
  add('a kind in byte 40, no length byte', [nops(39), raw(8)], st('truncated'));
  add('timestamps cut after 8 bytes', [NOP, NOP, ts(1, 2).slice(0, 8)], st('truncated'));
  add('a good v4 then a cut timestamp', [v4(C4, 1), ts(1, 2).slice(0, 9)], st('truncated'));
  add('SACK claiming 255 bytes', [raw(5, 255, 0, 0, 0, 1)], st('truncated'));
  add('41 bytes: longer than any TCP options area', [v4(C4, 1), nops(33)], st('truncated'));
  add('cdn version 2 then a cut option: truncated wins over version', [cdn(C4, 2), raw(2, 4, 5)], st('truncated'), ['cdn']);

  // Length below 2.
  add('254 with length 0', [raw(254, 0), nops(6)], st('short'));
  add('254 with length 1', [raw(254, 1), nops(6)], st('short'));
  add('MSS with length 0', [raw(2, 0, 5, 180)], st('short'));
  add('a good v4 then timestamps with length 1', [v4(C4, 1), raw(8, 1), zeros(8)], st('short'));
  add('unknown kind 99 with length 1', [raw(99, 1)], st('short'));

  // End of Option List: zeros may follow, nothing else.
  add('EOL alone', [EOL], st('absent'));
  add('EOL and 39 zeros', [EOL, zeros(39)], st('absent'));
  add('40 zero bytes', [zeros(40)], st('absent'));
  add('a NOP after EOL', [EOL, NOP], st('after_eol'));
  add('v4 after EOL', [EOL, v4(C4, 1)], st('after_eol'));
  add('v4, EOL, v4', [v4(C4, 1), EOL, v4(C4, 2)], st('after_eol'));
  add('v4, EOL, zeros, then a 1 in the last byte', [v4(C4, 1), EOL, raw(0, 0, 0, 1)], st('after_eol'));
  add('timestamps, EOL, then 0xff', [linuxAck, EOL, raw(0xff)], st('after_eol'));

  // More than one TOA option.
  add('v4 twice, same client', [v4(C4, 1), v4(C4, 1)], st('multiple'));
  add('v4 twice, different clients', [v4(C4, 1), linuxAck, v4('203.0.113.66', 2)], st('multiple'));
  add('v4 and v6', [v4(C4, 1), v6(C6, 1)], st('multiple'));
  add('v6 and v6-ali', [v6(C6, 1), v6(C6, 1, 253)], st('multiple'));
  add('v4 and v4-200 when both are accepted', [v4(C4, 1), v4(C4, 1, 200)], st('multiple'), ['v4', 'v4-200']);
  add('cdn and cdn6 when both are accepted', [cdn(C4), cdn6(C6)], st('multiple'), ['cdn', 'cdn6']);
  add('cdn and v4-253 when every dialect is accepted', [cdn(C4), v4(C4, 1, 253)], st('multiple'), ALL);
  add('multiple is reported before a later truncation', [v4(C4, 1), v4(C4, 2), mss(1).slice(0, 3)], st('multiple'));

  // No TOA at all.
  add('empty options area', [], st('absent'));
  add('Linux SYN options', [linuxSyn], st('absent'));
  add('Linux ACK options', [linuxAck], st('absent'));
  add('40 NOPs', [nops(40)], st('absent'));
  add('unknown kinds only', [raw(99, 4, 1, 2), tfoCookie, md5], st('absent'));

  return c;
}

// ---- encode and record cases -----------------------------------------------

function encodeCases() {
  const e = (dialect: Dialect, address: string, port: number, bytes: Bytes) => ({ dialect, address, port, hex: hex(bytes) });
  return [
    e('v4', C4, 40000, v4(C4, 40000)),
    e('v4', '1.0.0.0', 1, v4('1.0.0.0', 1)),
    e('v4', '223.255.255.255', 65535, v4('223.255.255.255', 65535)),
    e('v6', C6, 51234, v6(C6, 51234)),
    e('v6', '::ffff:198.51.100.10', 1, v6('::ffff:198.51.100.10', 1)),
    e('v6', '::2', 256, v6('::2', 256)),
    e('v6-ali', '2001:db8:abcd:ef:a:b:0:c', 443, v6('2001:db8:abcd:ef:a:b:0:c', 443, 253)),
    e('v4-253', '203.0.113.66', 8080, v4('203.0.113.66', 8080, 253)),
    e('v4-200', '192.0.2.200', 12345, v4('192.0.2.200', 12345, 200)),
    e('cdn', C4, 0, cdn(C4)),
    e('cdn6', C6, 0, cdn6(C6)),
  ];
}

function recordCases(): RecordCase[] {
  const DIALECT_ID: Record<Dialect, number> = { v4: 1, v6: 2, 'v6-ali': 3, 'v4-253': 4, 'v4-200': 5, cdn: 6, cdn6: 7 };
  const addr16 = (fam: 4 | 6, a: string) => (fam === 4 ? [...ip4(a), ...zeros(12)] : ip6(a));
  // flags is a host-order __u32: the bytes below are a little-endian host's.
  const flagsLE = (nat64: boolean, rewritten: boolean) => [(nat64 ? 1 : 0) | (rewritten ? 2 : 0), 0, 0, 0];
  const r = (name: string, rec: RecordCase['record']): RecordCase => ({
    name,
    hex: hex(
      [rec.version, rec.family, DIALECT_ID[rec.dialect], rec.peerFamily],
      [...u16(rec.port), ...u16(rec.peerPort)],
      addr16(rec.family, rec.address),
      addr16(rec.peerFamily, rec.peerAddress),
      flagsLE(rec.nat64, rec.rewritten),
    ),
    record: rec,
  });
  return [
    r('IPv4 client through the IPv4 LIP, getpeername rewritten', {
      version: 1, family: 4, dialect: 'v4', address: C4, port: 40000,
      peerFamily: 4, peerAddress: '192.0.2.1', peerPort: 61000, nat64: false, rewritten: true,
    }),
    r('IPv6 client on an IPv4 socket (NAT64): getpeername keeps the LIP', {
      version: 1, family: 6, dialect: 'v6', address: C6, port: 51234,
      peerFamily: 4, peerAddress: '192.0.2.1', peerPort: 61001, nat64: true, rewritten: false,
    }),
    r('IPv6 client through the IPv6 LIP (v6-ali)', {
      version: 1, family: 6, dialect: 'v6-ali', address: C6, port: 443,
      peerFamily: 6, peerAddress: '2001:db8:200::1', peerPort: 1025, nat64: false, rewritten: true,
    }),
    r('cdn client: no port', {
      version: 1, family: 4, dialect: 'cdn', address: '203.0.113.7', port: 0,
      peerFamily: 4, peerAddress: '192.0.2.1', peerPort: 65535, nat64: false, rewritten: true,
    }),
  ];
}

/** The whole vector file as an object (also used by the test that keeps the JSON current). */
export function buildVectors() {
  return {
    about: [
      'TOA wire vectors: every TOA parser and encoder in this repository is checked against this file.',
      'Generated by test/vectors/generate.ts (edit there). Hex strings: ignore all whitespace; two spaces separate options for readers.',
      'parse[].hex is a TCP options area (the bytes after the fixed 20-byte header). accept lists the dialects the parser accepts;',
      'when it is missing the default list applies (dialects with default: true). expect.status names mirror enum toa_status.',
      'Addresses are RFC 5952 text: lowercase, longest run of two or more zero groups as ::, IPv4-mapped as ::ffff:a.b.c.d.',
      'An IPv4-mapped address in a v6 dialect decodes as the IPv4 client (family 4, dotted). Port 0 where a dialect carries a port is',
      'status port; loopback, unspecified, multicast and broadcast addresses (0/8, 127/8, 224/4, 255.255.255.255, ::, ::1, ff00::/8) status address.',
      'record[].hex is struct toa_record (include/toa/toa_record.h); its flags word is host order, written here for little-endian hosts.',
    ],
    dialects: [
      { name: 'v4', id: 1, kind: 254, length: 8, family: 4, port: true, default: true },
      { name: 'v6', id: 2, kind: 254, length: 20, family: 6, port: true, default: true },
      { name: 'v6-ali', id: 3, kind: 253, length: 20, family: 6, port: true, default: true },
      { name: 'v4-253', id: 4, kind: 253, length: 8, family: 4, port: true, default: false },
      { name: 'v4-200', id: 5, kind: 200, length: 8, family: 4, port: true, default: false },
      { name: 'cdn', id: 6, kind: 28, length: 7, family: 4, port: false, default: false },
      { name: 'cdn6', id: 7, kind: 28, length: 19, family: 6, port: false, default: false },
    ],
    statuses: ['ok', 'absent', 'length', 'truncated', 'short', 'after_eol', 'multiple', 'version', 'port', 'address'],
    parse: parseCases(),
    encode: encodeCases(),
    record: recordCases(),
  };
}

/** The file's text: one case per line, so diffs stay readable. */
export function renderVectors(): string {
  const v = buildVectors();
  const list = (xs: unknown[]) => `[\n${xs.map((x) => `    ${JSON.stringify(x)}`).join(',\n')}\n  ]`;
  return (
    '{\n' +
    `  "about": ${list(v.about)},\n` +
    `  "dialects": ${list(v.dialects)},\n` +
    `  "statuses": ${JSON.stringify(v.statuses)},\n` +
    `  "parse": ${list(v.parse)},\n` +
    `  "encode": ${list(v.encode)},\n` +
    `  "record": ${list(v.record)}\n` +
    '}\n'
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = fileURLToPath(new URL('./toa-options.json', import.meta.url));
  writeFileSync(out, renderVectors());
  const n = buildVectors();
  process.stdout.write(`wrote ${out}: ${n.parse.length} parse, ${n.encode.length} encode, ${n.record.length} record cases\n`);
}
