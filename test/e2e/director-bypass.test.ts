/**
 * Ways around the writer's strip that are not packet shapes: a VIP port the
 * writer was not given but the engine forwards, VIP traffic entering the
 * director on another device, and a device without Ethernet frames. In each
 * a client (or a host on another side) sends a forged TOA naming the stranger;
 * the real server accepts every dialect, so a forged option that got through
 * would be the answer's remoteAddress.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADDR, createLab, labUnavailable, type Lab } from '../lab/index.js';
import { craft, ensureCraft, toaHex } from '../tools/craft.js';

const onDual = (a: string): string => (a.includes(':') ? a : `::ffff:${a}`);
const why = labUnavailable();

describe.skipIf(why)(`director: no way around the strip${why ? ` (skipped: ${why})` : ''}`, () => {
  let lab: Lab;

  beforeAll(async () => {
    ensureCraft();
    lab = await createLab();
    await lab.startPeerEcho({ host: '::', port: 80 });
    await lab.startPeerEcho({ host: '::', port: 9000 });
    // The lab's DNAT forwards every port of the VIPs; the writer is told of port 80 alone.
    await lab.attachWriter({ ports: [80] });
    await lab.attachRealserver({ accept: ['v4', 'v6', 'v6-ali', 'v4-253', 'v4-200'] });
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  it.each([4, 6] as const)('IPv%i: another port of a VIP address gets no TOA, and the client\'s own is stripped', async (fam) => {
    const v6 = fam === 6;
    const vip = v6 ? ADDR.vip6 : ADDR.vip4;
    const forged = toaHex(v6 ? 'v6' : 'v4', v6 ? ADDR.stranger6 : ADDR.stranger4, 4321);
    const before = (await lab.writerStatus()).counters;
    const ok = await craft(lab, 'client', vip, 80, { ackOpts: forged, dataOpts: forged });
    const other = await craft(lab, 'client', vip, 9000, { ackOpts: forged, dataOpts: forged });
    expect(ok.code, ok.stderr).toBe(0);
    expect(other.code, other.stderr).toBe(0);
    expect(ok.body.remoteAddress).toBe(onDual(v6 ? ADDR.client6 : ADDR.client4));
    expect(other.body.remoteAddress).toBe(onDual(v6 ? ADDR.lip6 : ADDR.lip4));
    const after = (await lab.writerStatus()).counters;
    // Port 80: the handshake ACK and the request; port 9000: the same two, stripped without a flow.
    expect(after.forged_stripped - before.forged_stripped).toBeGreaterThanOrEqual(4);
  });

  it.each([4, 6] as const)('IPv%i: VIP traffic entering on the real servers\' side is not forwarded with its TOA', async (fam) => {
    const v6 = fam === 6;
    const vip = v6 ? ADDR.vip6 : ADDR.vip4;
    // A host on the real servers' link (the real server's namespace itself) routes the VIP via the director.
    await lab.execOk('realserver', v6 ? ['ip', '-6', 'route', 'replace', `${vip}/128`, 'via', ADDR.lip6] : ['ip', 'route', 'replace', `${vip}/32`, 'via', ADDR.lip4]);
    const forged = toaHex(v6 ? 'v6' : 'v4', v6 ? ADDR.stranger6 : ADDR.stranger4, 4321);
    const r = await craft(lab, 'realserver', vip, 80, { ackOpts: forged, dataOpts: forged, timeoutMs: 3000 });
    // The lab forwards only what entered on the writer's device: the director itself answers (a reset), nobody is fooled.
    expect(r.body?.remoteAddress).not.toBe(onDual(v6 ? ADDR.stranger6 : ADDR.stranger4));
    expect(r.code).not.toBe(0);
  });

  it('attach refuses a device without Ethernet frames (a tun device), which it could not strip', async () => {
    await lab.execOk('director', ['ip', 'tuntap', 'add', 'dev', 'tun9', 'mode', 'tun']);
    const r = await lab.toaBpf(['director', 'attach', '--dev', 'tun9', '--vip', `${ADDR.vip4}:80`], 'director');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/'tun9' is not an Ethernet device/);
    // The attachment on cli0 stays as it was.
    expect((await lab.writerStatus()).attached).toBe(true);
  });
});
