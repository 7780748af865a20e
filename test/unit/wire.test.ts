// node-toa/src/wire.ts against the vectors, the C headers and itself.
import { describe, expect, it } from 'vitest';
import {
  ACCEPT_ALL_MASK,
  ACCEPT_DEFAULT_MASK,
  DEFAULT_ACCEPT,
  DIALECT_TABLE,
  RECORD_SIZE,
  STATUSES,
  acceptMask,
  decodeOptions,
  decodeRecord,
  encodeOption,
  encodeRecord,
  formatIPv6,
  parseAddress,
  type DialectName,
} from '../../node-toa/src/wire.js';
import { renderVectors } from '../vectors/generate.js';
import { acceptOf, hexBytes, loadVectors, maskOf } from '../vectors/vectors.js';
import { readFileSync } from 'node:fs';
import { VECTORS_PATH } from '../vectors/vectors.js';
import { buildWire, runChecker } from '../wire/run.js';

const v = loadVectors();
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('the vector file', () => {
  it('is what test/vectors/generate.ts writes (run it after editing the cases)', () => {
    expect(readFileSync(VECTORS_PATH, 'utf8')).toBe(renderVectors());
  });

  it('covers every status and dialect, with more than 60 parse cases', () => {
    expect(v.parse.length).toBeGreaterThan(60);
    expect(new Set(v.parse.map((c) => c.expect.status))).toEqual(new Set(v.statuses));
    const okDialects = new Set(v.parse.flatMap((c) => (c.expect.status === 'ok' ? [c.expect.dialect] : [])));
    expect(okDialects).toEqual(new Set(v.dialects.map((d) => d.name)));
    expect(new Set(v.encode.map((c) => c.dialect))).toEqual(new Set(v.dialects.map((d) => d.name)));
  });

  it('has unique case names', () => {
    expect(new Set(v.parse.map((c) => c.name)).size).toBe(v.parse.length);
  });
});

describe('decodeOptions', () => {
  it.each(v.parse.map((c) => [c.name, c] as const))('%s', (_n, c) => {
    const bytes = hexBytes(c.hex);
    expect(decodeOptions(bytes, acceptOf(v, c))).toEqual(c.expect);
    // The same through a precompiled mask, and through the default argument.
    expect(decodeOptions(bytes, maskOf(v, acceptOf(v, c)))).toEqual(c.expect);
    if (!c.accept) expect(decodeOptions(bytes)).toEqual(c.expect);
  });

  it('reads a Buffer and a subarray view the same as a plain Uint8Array', () => {
    const c = v.parse.find((x) => x.name === 'v6 after NOP NOP timestamps')!;
    const bytes = hexBytes(c.hex);
    expect(decodeOptions(Buffer.from(bytes))).toEqual(c.expect);
    const padded = new Uint8Array(bytes.length + 7);
    padded.set(bytes, 3);
    expect(decodeOptions(padded.subarray(3, 3 + bytes.length))).toEqual(c.expect);
  });

  it('refuses what is not bytes, and unknown dialect names', () => {
    expect(() => decodeOptions('fe08' as unknown as Uint8Array)).toThrow(expect.objectContaining({ code: 'TOA_EARG' }));
    expect(() => decodeOptions(new Uint8Array(0), ['v4', 'v5'])).toThrow(expect.objectContaining({ code: 'TOA_EDIALECT', message: expect.stringContaining('"v5"') }));
  });
});

describe('encodeOption', () => {
  it.each(v.encode.map((c) => [`${c.dialect} ${c.address} port ${c.port}`, c] as const))('%s', (_n, c) => {
    const bytes = encodeOption(c.dialect, c.address, c.port);
    expect(toHex(bytes)).toBe(c.hex.replace(/\s+/g, ''));
    // What is encoded decodes back when its dialect is accepted (::ffff:a.b.c.d as the IPv4 client).
    const back = decodeOptions(bytes, [c.dialect]);
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(c.address);
    const family = mapped ? 4 : DIALECT_TABLE.find((d) => d.name === c.dialect)!.family;
    expect(back).toEqual({ status: 'ok', dialect: c.dialect, family, address: mapped ? mapped[1] : c.address, port: c.port });
  });

  it.each([
    ['v5', '198.51.100.10', 1, 'TOA_EDIALECT'],
    ['v4', '2001:db8::1', 1, 'TOA_EADDRESS'],
    ['v6', '198.51.100.10', 1, 'TOA_EADDRESS'],
    ['v4', '198.51.100.300', 1, 'TOA_EADDRESS'],
    ['v4', '198.51.100.010', 1, 'TOA_EADDRESS'],
    ['v6', '2001:db8::1%eth0', 1, 'TOA_EADDRESS'],
    ['v6', '1::2::3', 1, 'TOA_EADDRESS'],
    ['v4', '198.51.100.10', 65536, 'TOA_EPORT'],
    ['v4', '198.51.100.10', -1, 'TOA_EPORT'],
    ['v4', '198.51.100.10', 1.5, 'TOA_EPORT'],
    ['cdn', '198.51.100.10', 80, 'TOA_EPORT'],
  ] as const)('refuses %s %s port %s (%s)', (d, a, p, code) => {
    expect(() => encodeOption(d as DialectName, a, p)).toThrow(expect.objectContaining({ code }));
  });
});

describe('records', () => {
  it.each(v.record.map((r) => [r.name, r] as const))('%s', (_n, r) => {
    const bytes = hexBytes(r.hex);
    expect(bytes.length).toBe(RECORD_SIZE);
    expect(decodeRecord(bytes)).toEqual(r.record);
    expect(toHex(encodeRecord(r.record))).toBe(toHex(bytes));
  });

  it('round-trips every dialect and flag combination', () => {
    for (const d of DIALECT_TABLE)
      for (const flags of [0, 1, 2, 3]) {
        const rec = {
          version: 1, family: d.family, dialect: d.name,
          address: d.family === 4 ? '203.0.113.9' : '2001:db8:300::9', port: d.port ? 4321 : 0,
          peerFamily: 6 as const, peerAddress: '2001:db8:200::1', peerPort: 65535,
          nat64: (flags & 1) !== 0, rewritten: (flags & 2) !== 0,
        };
        expect(decodeRecord(encodeRecord(rec))).toEqual(rec);
      }
  });

  it('ignores unknown flag bits and reads a longer buffer', () => {
    const b = new Uint8Array(64);
    b.set(hexBytes(v.record[0]!.hex));
    b[43] = 0x80;
    expect(decodeRecord(b)).toEqual(v.record[0]!.record);
  });

  it.each([
    ['a short buffer', (b: Uint8Array) => b.subarray(0, 43), /43 bytes/],
    ['version 2', (b: Uint8Array) => ((b[0] = 2), b), /version 2/],
    ['client family 5', (b: Uint8Array) => ((b[1] = 5), b), /client family 5/],
    ['dialect 0', (b: Uint8Array) => ((b[2] = 0), b), /dialect 0/],
    ['dialect 8', (b: Uint8Array) => ((b[2] = 8), b), /dialect 8/],
    ['peer family 0', (b: Uint8Array) => ((b[3] = 0), b), /peer family 0/],
  ])('refuses %s with TOA_ERECORD', (_n, spoil, msg) => {
    const b = spoil(hexBytes(v.record[0]!.hex));
    expect(() => decodeRecord(b)).toThrow(expect.objectContaining({ code: 'TOA_ERECORD', message: expect.stringMatching(msg) }));
  });

  it('encodeRecord refuses fields the struct cannot hold', () => {
    const good = v.record[0]!.record;
    expect(() => encodeRecord({ ...good, port: 70000 })).toThrow(expect.objectContaining({ code: 'TOA_EPORT' }));
    expect(() => encodeRecord({ ...good, address: '2001:db8::1' })).toThrow(expect.objectContaining({ code: 'TOA_EADDRESS' }));
    expect(() => encodeRecord({ ...good, dialect: 'v9' as DialectName })).toThrow(expect.objectContaining({ code: 'TOA_EDIALECT' }));
  });
});

describe('addresses', () => {
  it.each([
    ['2001:db8::1', '2001:db8::1'],
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['::', '::'],
    ['1::', '1::'],
    ['::ffff:c633:640a', '::ffff:198.51.100.10'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['64:ff9b::198.51.100.10', '64:ff9b::c633:640a'],
  ])('%s is written %s', (text, canonical) => {
    const a = parseAddress(text)!;
    expect(a.family).toBe(6);
    expect(formatIPv6(a.bytes)).toBe(canonical);
  });

  it.each(['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', ':::', '1:2:3:4:5:6:7:8:9', '12345::', 'g::1', '[::1]', '1:2:3:4:5:6:7:1.2.3.4'])(
    'refuses %j',
    (text) => expect(parseAddress(text)).toBeNull(),
  );
});

describe('the tables mirror include/toa/toa_wire.h and toa_record.h', () => {
  it('dialects, statuses and masks equal what the C checker prints', () => {
    buildWire('build/toa-check');
    const r = runChecker([], ['--table']);
    expect(r.status, r.err).toBe(0);
    const t = JSON.parse(r.out[0]!);
    expect(DIALECT_TABLE.map((d) => ({ ...d }))).toEqual(t.dialects);
    expect([...STATUSES]).toEqual(t.statuses);
    expect(ACCEPT_DEFAULT_MASK).toBe(t.acceptDefault);
    expect(ACCEPT_ALL_MASK).toBe(t.acceptAll);
    expect(RECORD_SIZE).toBe(t.record.size);
    expect([...DEFAULT_ACCEPT]).toEqual(['v4', 'v6', 'v6-ali']);
  });

  it('record offsets equal the C compiler\'s (one distinct byte per field)', () => {
    buildWire('build/toa-check');
    const { offsets } = JSON.parse(runChecker([], ['--table']).out[0]!).record;
    const rec = decodeRecord(encodeRecord({
      version: 1, family: 6, dialect: 'cdn6', address: '102:304:506:708:90a:b0c:d0e:f10', port: 0x1112,
      peerFamily: 4, peerAddress: '19.20.21.22', peerPort: 0x1718, nat64: true, rewritten: false,
    }));
    const b = encodeRecord(rec);
    expect(b[offsets.version]).toBe(1);
    expect(b[offsets.family]).toBe(6);
    expect(b[offsets.dialect]).toBe(7);
    expect(b[offsets.peerFamily]).toBe(4);
    expect([b[offsets.port], b[offsets.port + 1]]).toEqual([0x11, 0x12]);
    expect([b[offsets.peerPort], b[offsets.peerPort + 1]]).toEqual([0x17, 0x18]);
    expect(b[offsets.addr]).toBe(1);
    expect(b[offsets.addr + 15]).toBe(0x10);
    expect(b[offsets.peerAddr]).toBe(19);
    expect(b[offsets.flags]).toBe(1);
  });

  it('acceptMask matches TOA_BIT()', () => {
    expect(acceptMask([])).toBe(0);
    expect(acceptMask(['cdn6'])).toBe(1 << 7);
    expect(acceptMask(['v4', 'v4'])).toBe(2);
  });
});
