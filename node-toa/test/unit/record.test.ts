// The record decoder against the shared vectors and the C header it mirrors.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { RECORD_SIZE, TOA_SO_RECORD } from '../../src/backends/backend.js';
import { PIN_DIR_DEFAULT } from '../../src/reader.js';
import { peerFromRecord, REC_NAT64, REC_REWRITTEN, RECORD_VERSION } from '../../src/record.js';
import { dialectById } from '../../src/wire.js';

const repo = join(__dirname, '../../..');
const vectors = JSON.parse(readFileSync(join(repo, 'test/vectors/toa-options.json'), 'utf8'));
const header = readFileSync(join(repo, 'include/toa/toa_record.h'), 'utf8');
const wireHeader = readFileSync(join(repo, 'include/toa/toa_wire.h'), 'utf8');
const nativeHeader = readFileSync(join(repo, 'node-toa/src/native/lookup.h'), 'utf8');

function define(text: string, name: string): string {
  const m = new RegExp(`#define\\s+${name}\\s+(\\S+)`).exec(text);
  if (!m) throw new Error(`${name} not found`);
  return m[1];
}

function hex(h: string): Uint8Array {
  return Uint8Array.from(Buffer.from(h.replace(/\s/g, ''), 'hex'));
}

describe('record vectors (test/vectors/toa-options.json)', () => {
  const records = vectors.record as { name: string; hex: string; record: Record<string, any> }[];
  test('there are vectors', () => expect(records.length).toBeGreaterThan(0));

  test.each(records.map((r) => [r.name, r] as const))('%s', (_name, v) => {
    const b = hex(v.hex);
    expect(b.length).toBe(RECORD_SIZE);
    const r = v.record;
    // On a socket of the LIP's family, as the real server has it.
    const p = peerFromRecord(b, r.peerFamily);
    expect(p.via).toBe('toa');
    expect(p.address).toBe(r.address);
    expect(p.port).toBe(r.port);
    expect(p.family).toBe(r.family);
    expect(p.dialect).toBe(r.dialect);
    expect(p.proxy).toEqual({ address: r.peerAddress, port: r.peerPort });
    expect(p.nat64).toBe(r.nat64);
  });

  test('an IPv4 client on a dual-stack socket reads as ::ffff:a.b.c.d, family 4', () => {
    const v = records.find((r) => r.record.family === 4 && r.record.peerFamily === 4)!;
    const p = peerFromRecord(hex(v.hex), 6);
    expect(p.address).toBe(`::ffff:${v.record.address}`);
    expect(p.family).toBe(4);
    expect(p.proxy!.address).toBe(`::ffff:${v.record.peerAddress}`);
  });

  test('unknown version and family are refused with TOA_ERECORD', () => {
    const b = hex(records[0].hex);
    b[0] = 2;
    expect(() => peerFromRecord(b, 4)).toThrow(expect.objectContaining({ code: 'TOA_ERECORD', message: expect.stringMatching(/version 2/) }));
    b[0] = 1;
    b[1] = 5;
    expect(() => peerFromRecord(b, 4)).toThrow(expect.objectContaining({ code: 'TOA_ERECORD' }));
    b[1] = 4;
    b[2] = 99;
    expect(() => peerFromRecord(b, 4)).toThrow(expect.objectContaining({ code: 'TOA_ERECORD', message: expect.stringMatching(/dialect 99/) }));
  });
});

describe('constants mirror the C headers', () => {
  test('toa_record.h', () => {
    expect(Number(define(header, 'TOA_RECORD_VERSION'))).toBe(RECORD_VERSION);
    expect(Number(define(header, 'TOA_SO_RECORD'))).toBe(TOA_SO_RECORD);
    expect(Number(define(header, 'TOA_REC_NAT64'))).toBe(REC_NAT64);
    expect(Number(define(header, 'TOA_REC_REWRITTEN'))).toBe(REC_REWRITTEN);
    expect(JSON.parse(define(header, 'TOA_PIN_DIR_DEFAULT'))).toBe(PIN_DIR_DEFAULT);
    expect(JSON.parse(define(header, 'TOA_PIN_RECORDS'))).toBe('records');
    expect(header).toMatch(/44 bytes, no padding/);
  });

  test('the native addon copies the same numbers', () => {
    expect(Number(define(nativeHeader, 'TOA_RECORD_SIZE'))).toBe(RECORD_SIZE);
    expect(Number(define(nativeHeader, 'TOA_SO_RECORD'))).toBe(TOA_SO_RECORD);
  });

  test('dialect numbers follow enum toa_dialect and the vector file', () => {
    const enumNames = ['NONE', 'V4', 'V6', 'V6_ALI', 'V4_253', 'V4_200', 'CDN', 'CDN6'];
    enumNames.forEach((n, i) => expect(wireHeader).toMatch(new RegExp(`TOA_D_${n}\\s*=\\s*${i},`)));
    for (const d of vectors.dialects as { name: string; id: number }[]) expect(dialectById(d.id)?.name).toBe(d.name);
  });
});
