/** The bulk-throughput measure the lab benchmarks use. */
import { ADDR, type Lab } from '../lab/index.js';

/** The port the benches' iperf3 server listens on. */
export const IPERF_PORT = 5201;

/** The lab's MTU 1500 gives MSS 1460 (IPv4) and 1440 (IPv6); the writer takes the default dialects' room (8, 20). */
export const CLAMPED_MSS = { v4: 1460 - 8, v6: 1440 - 20 };

/** iperf3 through the IPv4 VIP: bits per second received, upload (client sends) or download. */
export async function bulkRate(lab: Lab, seconds: number, download: boolean): Promise<number> {
  const out = await lab.execOk('client', [
    'iperf3', '-c', ADDR.vip4, '-p', String(IPERF_PORT), '-t', String(seconds), '-J', ...(download ? ['-R'] : []),
  ], { timeoutMs: (seconds + 30) * 1000 });
  return JSON.parse(out).end.sum_received.bits_per_second as number;
}

/** Starts iperf3's server on the real server, in the lab's cgroup (where its eBPF path sees it). */
export async function startIperf(lab: Lab): Promise<void> {
  const iperf = lab.spawn('realserver', ['iperf3', '-s', '--forceflush', '-p', String(IPERF_PORT)], { cgroup: true });
  await iperf.waitFor(/listening/i);
}
