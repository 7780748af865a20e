/**
 * Every parse vector of test/vectors/toa-options.json, on the wire: the
 * stranger (trusted for this test) sends the vector's option bytes in the
 * handshake ACK to the real server's Node app. A valid option gives the app
 * its address and port; anything else leaves the connection untouched, takes
 * no address, and counts the vector's reason.
 *
 * Except where the real server's kernel drops the segment before TCP (and so
 * BPF) sees it: with an MD5 signature option and no key (counted by the
 * kernel as TCPMD5Unexpected), and, from Linux 6.7, when its check of the
 * authentication options finds a malformed option (authOptionsRejected()).
 * Then the connection must still be served, with no address taken.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADDR, createLab, labUnavailable, REPO_ROOT, type Lab } from '../lab/index.js';
import { addrBytes, craft, ensureCraft } from '../tools/craft.js';

interface Vector {
  name: string;
  hex: string;
  accept?: string[];
  expect: { status: string; dialect?: string; family?: number; address?: string; port?: number };
}

const file = JSON.parse(readFileSync(join(REPO_ROOT, 'test/vectors/toa-options.json'), 'utf8'));
const defaults: string[] = file.dialects.filter((d: { default: boolean }) => d.default).map((d: { name: string }) => d.name);
const all: Vector[] = file.parse;

/** toa-craft pads with NOPs in front to a multiple of 4; what does not fit a TCP header cannot be sent. */
const fits = (v: Vector): boolean => {
  const n = v.hex.replace(/\s/g, '').length / 2;
  return n + ((4 - (n % 4)) % 4) <= 40;
};
const onWire = all.filter(fits);
// Grouped by accept list, so the real server is re-attached once per list.
const groups = new Map<string, Vector[]>();
for (const v of onWire) {
  const key = (v.accept ?? defaults).join(',');
  groups.set(key, [...(groups.get(key) ?? []), v]);
}

const counterOf: Record<string, string> = {
  ok: 'found',
  absent: 'absent',
  length: 'malformed_length',
  truncated: 'malformed_truncated',
  short: 'malformed_short',
  after_eol: 'malformed_after_eol',
  multiple: 'malformed_multiple',
  version: 'malformed_version',
  port: 'malformed_port',
  address: 'impossible_address',
};

/**
 * Linux 6.7+ tcp_do_parse_auth_options() (MD5/TCP-AO), which drops the
 * segment on an error: it walks options while at least minlen bytes remain
 * (18 with MD5 only, 5 with TCP-AO built in).
 */
function authOptionsRejected(b: Buffer, minlen: number): boolean {
  let i = 0;
  while (b.length - i >= minlen) {
    const kind = b[i];
    if (kind === 0) return false;
    if (kind === 1) {
      i++;
      continue;
    }
    const size = b[i + 1];
    if (size < 2 || size > b.length - i) return true;
    if (kind === 19 && size !== 18) return true;
    if (kind === 29 && size <= 4) return true;
    i += size;
  }
  return false;
}

/** The bytes toa-craft puts on the wire: NOPs in front up to a multiple of 4. */
function wireBytes(hex: string): Buffer {
  const raw = Buffer.from(hex.replace(/\s/g, ''), 'hex');
  return Buffer.concat([Buffer.alloc((4 - (raw.length % 4)) % 4, 1), raw]);
}

const why = labUnavailable();

describe.skipIf(why)(`real server eBPF path: the vector file on the wire${why ? ` (skipped: ${why})` : ''}`, () => {
  let lab: Lab;

  /** How this kernel checks options before TCP: 0 = not at all, else the check's minlen. */
  let authCheck = 0;

  const md5Unexpected = async (): Promise<number> => {
    const out = await lab.execOk('realserver', ['nstat', '-az', 'TcpExtTCPMD5Unexpected']);
    return Number(/TcpExtTCPMD5Unexpected\s+(\d+)/.exec(out)?.[1] ?? 0);
  };

  /** Sends options from the stranger; true when the handshake ACK reached BPF with its reason counted. */
  const probe = async (hex: string, counter: string): Promise<boolean> => {
    const before = (await lab.realserverStatus()).counters;
    const r = await craft(lab, 'stranger', ADDR.rsStranger4, 80, { ackOpts: hex });
    expect(r.code, r.stderr).toBe(0);
    return (await lab.realserverStatus()).counters[counter] - before[counter] === 1;
  };

  beforeAll(async () => {
    ensureCraft();
    lab = await createLab();
    await lab.startPeerEcho({ host: '::', port: 80 });
    // Which option check does this kernel run? Two probes, each truncated at the end: an
    // 8-byte area (checked with TCP-AO only) and a 40-byte one whose bad option starts with
    // 18 bytes left (checked from 6.7 with MD5 or TCP-AO).
    await lab.attachRealserver({ trust: [`${ADDR.stranger4}/32`] });
    const short = await probe('010101 fe08005001', 'malformed_truncated');
    const long = await probe(`${'01'.repeat(22)}fe14${'00'.repeat(16)}`, 'malformed_truncated');
    authCheck = !short ? 5 : !long ? 18 : 0;
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  it('covers nearly all vectors and every status', () => {
    expect(onWire.length).toBeGreaterThanOrEqual(all.length - 5);
    expect(new Set(onWire.map((v) => v.expect.status))).toEqual(new Set(Object.keys(counterOf)));
  });

  for (const [accept, vectors] of groups) {
    describe(`accepting ${accept}`, () => {
      beforeAll(async () => {
        await lab.attachRealserver({
          trust: [`${ADDR.lip4}/32`, `${ADDR.stranger4}/32`, `${ADDR.stranger6}/128`],
          accept: accept ? accept.split(',') : ['none'],
        });
      });

      for (const v of vectors) {
        it(`${v.expect.status}: ${v.name}`, async () => {
          const before = (await lab.realserverStatus()).counters;
          const md5Before = await md5Unexpected();
          const r = await craft(lab, 'stranger', ADDR.rsStranger4, 80, { ackOpts: v.hex });
          expect(r.code, r.stderr).toBe(0);
          const after = (await lab.realserverStatus()).counters;
          const got = (k: string): number => after[k] - before[k];
          const seen = addrBytes(r.body.remoteAddress).toString('hex');
          const kernelDropped =
            (await md5Unexpected()) > md5Before || (authCheck > 0 && authOptionsRejected(wireBytes(v.hex), authCheck));
          if (kernelDropped) {
            // The option never reached BPF: served as a plain connection from the stranger.
            expect(seen).toBe(addrBytes(`::ffff:${ADDR.stranger4}`).toString('hex'));
            expect(got('found')).toBe(0);
            if (v.expect.status !== 'ok' && v.expect.status !== 'absent') expect(got(counterOf[v.expect.status])).toBe(0);
          } else if (v.expect.status === 'ok') {
            const want = addrBytes(v.expect.address!);
            // An IPv4 client on the dual-stack socket is ::ffff:a.b.c.d.
            const mapped = want.length === 4 ? addrBytes(`::ffff:${v.expect.address}`) : want;
            expect(seen).toBe(mapped.toString('hex'));
            // The cdn dialects carry no port: the socket's own stays.
            expect(r.body.remotePort).toBe(v.expect.port || r.sport);
            expect(got('found')).toBe(1);
          } else {
            expect(seen).toBe(addrBytes(`::ffff:${ADDR.stranger4}`).toString('hex'));
            expect(r.body.remotePort).toBe(r.sport);
            expect(got('found')).toBe(0);
            if (v.expect.status === 'absent') expect(got('absent')).toBeGreaterThanOrEqual(1);
            else expect(got(counterOf[v.expect.status])).toBe(1);
          }
        });
      }
    });
  }
});
