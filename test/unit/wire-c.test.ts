// The C parser and encoder of include/toa/toa_wire.h against every vector,
// through test/wire/build/toa-check.
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeOptions, parseAddress } from '../../node-toa/src/wire.js';
import { acceptOf, hexBytes, loadVectors, maskOf } from '../vectors/vectors.js';
import { WIRE_DIR, buildWire, runChecker } from '../wire/run.js';

const v = loadVectors();
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** One checker line per parse vector: "<mask-hex> <options-hex|->". */
function parseLine(mask: number, bytes: Uint8Array): string {
  return `${mask.toString(16)} ${bytes.length ? toHex(bytes) : '-'}`;
}

/** 16 address bytes as toa_encode takes them (IPv4 in the first 4). */
function addr16(address: string): string {
  const b = new Uint8Array(16);
  b.set(parseAddress(address)!.bytes);
  return toHex(b);
}

describe('C toa_parse / toa_encode against the vectors', () => {
  let parsed: unknown[] = [];
  let encoded: string[] = [];

  beforeAll(() => {
    buildWire('build/toa-check');
    const p = runChecker(v.parse.map((c) => parseLine(maskOf(v, acceptOf(v, c)), hexBytes(c.hex))));
    expect(p.status, p.err).toBe(0);
    parsed = p.out.map((l) => JSON.parse(l));
    const e = runChecker(
      v.encode.map((c) => `E ${v.dialects.find((d) => d.name === c.dialect)!.id} ${c.port} ${addr16(c.address)}`),
    );
    expect(e.status, e.err).toBe(0);
    encoded = e.out.map((l) => (JSON.parse(l) as { hex: string }).hex);
  });

  it('has a result for every case', () => {
    expect(parsed).toHaveLength(v.parse.length);
    expect(encoded).toHaveLength(v.encode.length);
  });

  it.each(v.parse.map((c, i) => [c.name, i] as const))('parse: %s', (_name, i) => {
    expect(parsed[i]).toEqual(v.parse[i]!.expect);
  });

  it.each(v.encode.map((c, i) => [`${c.dialect} ${c.address} port ${c.port}`, i] as const))('encode: %s', (_n, i) => {
    expect(encoded[i]).toBe(v.encode[i]!.hex.replace(/\s+/g, ''));
  });

  it('an unknown dialect encodes to nothing', () => {
    const r = runChecker([`E 0 1 ${'00'.repeat(16)}`, `E 8 1 ${'00'.repeat(16)}`, `E 255 1 ${'00'.repeat(16)}`]);
    expect(r.out).toEqual(['{"hex":""}', '{"hex":""}', '{"hex":""}']);
  });

  it('the header defines the dialect table, statuses and record layout the vectors and DESIGN.md use', () => {
    const r = runChecker([], ['--table']);
    expect(r.status, r.err).toBe(0);
    const t = JSON.parse(r.out[0]!);
    expect(t.dialects).toEqual(v.dialects);
    expect(t.statuses).toEqual(v.statuses);
    expect(t.acceptDefault).toBe(maskOf(v, ['v4', 'v6', 'v6-ali']));
    expect(t.acceptAll).toBe(0xfe);
    expect(t.record).toEqual({
      size: 44,
      version: 1,
      nat64: 1,
      rewritten: 2,
      offsets: { version: 0, family: 1, dialect: 2, peerFamily: 3, port: 4, peerPort: 6, addr: 8, peerAddr: 24, flags: 40 },
    });
  });

  it('refuses bad input with a message and exit status 2', () => {
    for (const line of ['zz fe08', '0e fe0', '0e xyz0', `0e ${'01'.repeat(65)}`, 'E 1 70000 00', 'a b c d e']) {
      const r = runChecker([line]);
      expect(r.status, line).toBe(2);
      expect(r.err, line).toMatch(/^toa-check: line 1: /);
    }
  });
});

// Seeded, so a failure reproduces; pieces are biased towards the shapes that matter.
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomArea(r: () => number): Uint8Array {
  const n = (k: number) => Math.floor(r() * k);
  const kinds = [254, 253, 200, 28, 2, 3, 4, 5, 8, 19, 30, 34, n(256)];
  const bytes: number[] = [];
  const target = r() < 0.05 ? 41 + n(4) : n(41);
  while (bytes.length < target) {
    const p = r();
    if (p < 0.25) bytes.push(1);
    else if (p < 0.3) bytes.push(0);
    else if (p < 0.65) {
      // A well-formed option of a dialect, sometimes with a bad cdn version, port 0,
      // a v4-mapped address, or an address in or near a refused range.
      const d = v.dialects[n(v.dialects.length)]!;
      const body = Array.from({ length: d.length - 2 }, (_, i) => (i === 0 && !d.port && r() < 0.8 ? 1 : n(256)));
      const at = d.port ? 2 : 1;
      if (d.port && r() < 0.1) body[0] = body[1] = 0;
      if (d.family === 6 && r() < 0.3) body.splice(at, 12, ...new Array(10).fill(0), 0xff, 0xff);
      if (d.family === 6 && r() < 0.1) body.splice(at, 15, ...new Array(15).fill(0));
      const a4 = d.family === 4 ? at : at + 12;
      if (r() < 0.3) body[d.family === 6 && r() < 0.5 ? at : a4] = [0, 127, 224, 239, 240, 255, 0xfe, 0xff][n(8)]!;
      if (r() < 0.05) body.splice(a4, 4, 255, 255, 255, 255);
      bytes.push(d.kind, d.length, ...body);
    } else if (p < 0.9) {
      const len = r() < 0.2 ? n(3) : n(24);
      bytes.push(kinds[n(kinds.length)]!, len, ...Array.from({ length: Math.max(0, len - 2) }, () => n(256)));
    } else bytes.push(n(256));
  }
  return Uint8Array.from(bytes.slice(0, target));
}

describe('C and TypeScript agree on random option areas', () => {
  const randomCases = () => {
    const r = rng(0x70a);
    return Array.from({ length: 20_000 }, () => ({ mask: Math.floor(r() * 256), bytes: randomArea(r) }));
  };

  it('on 20000 cases under random accept masks', () => {
    const cases = randomCases();
    const res = runChecker(cases.map((c) => parseLine(c.mask, c.bytes)));
    expect(res.status, res.err).toBe(0);
    const seen = new Set<string>();
    cases.forEach((c, i) => {
      const ts = decodeOptions(c.bytes, c.mask);
      seen.add(ts.status);
      expect(ts, `mask ${c.mask.toString(16)} options ${toHex(c.bytes)}`).toEqual(JSON.parse(res.out[i]!));
    });
    // The generator reaches every outcome, so agreement is not agreement on trivia.
    expect([...seen].sort()).toEqual([...v.statuses].sort());
  });
});

// The BPF build differs from the userspace one (masked indexes through asm,
// a global per-position step), so it is checked in the kernel itself: program
// toa_vector of test/wire/header-check.bpf.o, run with BPF_PROG_TEST_RUN.
describe('the BPF build of toa_parse, run in the kernel', () => {
  const root = process.getuid?.() === 0;
  const maybe = root ? it : it.skip;
  const bpfObject = () => `${WIRE_DIR}/build/header-check.bpf.o`;

  maybe('gives every vector its expected result (needs root: skipped otherwise; CI runs as root)', () => {
    buildWire('build/toa-check-bpf', 'build/header-check.bpf.o');
    const res = runChecker(
      v.parse.map((c) => parseLine(maskOf(v, acceptOf(v, c)), hexBytes(c.hex))),
      [bpfObject()],
      'toa-check-bpf',
    );
    expect(res.status, res.err).toBe(0);
    v.parse.forEach((c, i) => expect(JSON.parse(res.out[i]!), c.name).toEqual(c.expect));
  }, 60_000);

  maybe('agrees with the userspace build on the 20000 random cases', () => {
    buildWire('build/toa-check-bpf', 'build/header-check.bpf.o');
    const r = rng(0x70a);
    const lines = Array.from({ length: 20_000 }, () => parseLine(Math.floor(r() * 256), randomArea(r)));
    const user = runChecker(lines);
    const kernel = runChecker(lines, [bpfObject()], 'toa-check-bpf');
    expect(kernel.status, kernel.err).toBe(0);
    expect(kernel.out.length).toBe(lines.length);
    kernel.out.forEach((l, i) => {
      if (l !== user.out[i]) expect(l, lines[i]).toBe(user.out[i]);
    });
  }, 120_000);
});
