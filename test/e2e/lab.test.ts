/** The lab itself: plain FullNAT works in both families, and teardown leaves nothing behind. */
import { existsSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADDR, createLab, labUnavailable, type Lab } from '../lab/index.js';

const why = labUnavailable();
if (why) console.warn(`skipping lab tests: ${why}`);

describe.skipIf(why)('lab', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await createLab();
    await lab.startPeerEcho({ port: 80 });
  });
  afterAll(() => lab?.destroy());

  it.each([
    ['IPv4', ADDR.vip4, `::ffff:${ADDR.lip4}`],
    ['IPv6', `[${ADDR.vip6}]`, ADDR.lip6],
  ])('%s client reaches the real server through FullNAT, which sees the LIP', async (_f, vip, seen) => {
    const out = await lab.execOk('client', ['curl', '-sS', '--max-time', '10', `http://${vip}/`]);
    const body = JSON.parse(out);
    expect(body.remoteAddress).toBe(seen);
    expect(body.localPort).toBe(80);
  });

  it('the stranger reaches the real server directly', async () => {
    const [r] = await lab.httpClient(['--url', `http://${ADDR.rsStranger4}/`], 'stranger');
    expect(r.error).toBeUndefined();
    expect(r.body.remoteAddress).toBe(`::ffff:${ADDR.stranger4}`);
    expect(r.body.remotePort).toBe(r.localPort);
  });

  it('captures the handshake at the real server with valid checksums', async () => {
    const cap = await lab.capture('realserver', 'eth0', 'tcp port 80');
    const [r] = await lab.httpClient(['--url', `http://${ADDR.vip4}/`]);
    expect(r.error).toBeUndefined();
    const segs = await cap.stop();
    const syn = segs.find((s) => s.flags.syn && !s.flags.ack);
    expect(syn?.src).toBe(ADDR.lip4);
    expect(syn?.dst).toBe(ADDR.rs4);
    expect(segs.length).toBeGreaterThanOrEqual(6);
    for (const s of segs) {
      expect(s.tcpChecksumOk).toBe(true);
      expect(s.ipChecksumOk).toBe(true);
    }
  });

  it('destroy removes namespaces, cgroup and pins', async () => {
    const other = await createLab();
    const names = Object.values(other.ns);
    const cg = other.cgroup.path;
    await other.destroy();
    const left = readdirSync('/run/netns').filter((n) => names.includes(n));
    expect(left).toEqual([]);
    expect(existsSync(cg)).toBe(false);
    expect(existsSync(other.pinDir)).toBe(false);
  });
});
