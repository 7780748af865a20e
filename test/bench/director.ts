/**
 * Director benchmark: connection rate (short HTTP requests, Connection: close)
 * and bulk throughput through the FullNAT director, TOA writer attached vs
 * detached, interleaved in one run.
 *
 * Attaching the writer also lowers the MSS the client may send (in the
 * SYN-ACK, by the option's length). Bulk throughput is measured a third way
 * each round, without the writer but with the same lower MSS advertised by
 * the real server's routes, to part the kernel TCP's answer to the smaller
 * segments from the writer's own cost.
 *
 * The lab keeps checksum offload on here, as every NIC a director runs on
 * has. Without it the kernel's software checksum makes a 1440-byte payload
 * about a fifth slower than a 1448- or 1388-byte one (an iperf3 upload through
 * the lab: 4.35 against 5.5 Gb/s, with route advmss alone, no eBPF), a cliff
 * that would be charged to the clamp. One more row keeps the per-segment
 * worst case: the writer against the same MSS without offload, where every
 * 1.5 KB segment passes tc ingress on its own.
 *
 * Then the seed's own figure ("FullNAT against NAT: forwarding drops by less
 * than 10%"): plain NAT (dnat only; the real server routes its replies back
 * through the director) against this project's whole FullNAT (dnat + snat to
 * the LIP + the writer + the real server's eBPF path), interleaved.
 */
import { join } from 'node:path';
import { createLab, REPO_ROOT } from '../lab/index.js';
import { bulkRate, CLAMPED_MSS, IPERF_PORT, startIperf } from './bulk.js';
import { labSteps } from './lab-steps.js';
import { connRate } from './conn-rate.js';
import { interleaved, interleavedN, row, type Row } from './stats.js';

const HTTP_PORT = 8080;

export interface DirectorBenchOptions {
  rounds?: number;
  seconds?: number;
}

export async function benchDirector(opts: DirectorBenchOptions = {}): Promise<Row[]> {
  const rounds = opts.rounds ?? 5;
  const seconds = opts.seconds ?? 3;
  const rows = await benchLab(true, rounds, seconds);
  rows.push(...(await benchLab(false, rounds, seconds)));
  return rows;
}

/** With offload: every row; without: the per-segment worst case (writer vs the same MSS, upload). */
async function benchLab(offload: boolean, rounds: number, seconds: number): Promise<Row[]> {
  const lab = await createLab({ offload });
  try {
    // In the lab's cgroup, so the real server's eBPF path sees them when it is attached.
    const http = lab.spawn('realserver', [join(REPO_ROOT, 'test/bench/build/accept-loop'), String(HTTP_PORT)], { cgroup: true });
    await http.waitFor(/listening/);
    await lab.tuneForLoad();
    await startIperf(lab);
    const { plainNat, sameMss, writer: attached, whole: wholeFullNat } = labSteps(lab, [HTTP_PORT, IPERF_PORT]);
    if (!offload) {
      const f = () => bulkRate(lab, seconds, false);
      return [row('no checksum offload: bulk upload, the writer at the same MSS', 'b/s', 'higher', await interleaved(rounds, () => sameMss(f), () => attached(f)), '>= 0.98')];
    }
    const conn = await interleaved(rounds, () => connRate(lab, HTTP_PORT, seconds), () => attached(() => connRate(lab, HTTP_PORT, seconds)));
    const rows = [row('director: connections/s (wrk, Connection: close)', 'c/s', 'higher', conn, '>= 0.97')];
    for (const download of [false, true]) {
      const what = download ? 'bulk download (iperf3 -R)' : 'bulk upload (iperf3)';
      const f = () => bulkRate(lab, seconds, download);
      const [plain, mssOnly, writer] = await interleavedN(rounds, [f, () => sameMss(f), () => attached(f)]);
      rows.push(
        row(`director: ${what}`, 'b/s', 'higher', { baseline: plain, feature: writer }, '>= 0.98'),
        row(`  of it: MSS ${CLAMPED_MSS.v4} alone (route advmss, no eBPF)`, 'b/s', 'higher', { baseline: plain, feature: mssOnly }),
        row(`  of it: the writer at the same MSS`, 'b/s', 'higher', { baseline: mssOnly, feature: writer }, '>= 0.99'),
      );
    }
    const versus = (f: () => Promise<number>) => interleaved(rounds, () => plainNat(f), () => wholeFullNat(f));
    rows.push(
      row('FullNAT + TOA vs plain NAT: connections/s', 'c/s', 'higher', await versus(() => connRate(lab, HTTP_PORT, seconds)), '>= 0.95'),
      row('FullNAT + TOA vs plain NAT: bulk upload', 'b/s', 'higher', await versus(() => bulkRate(lab, seconds, false)), '>= 0.97'),
      row('FullNAT + TOA vs plain NAT: bulk download', 'b/s', 'higher', await versus(() => bulkRate(lab, seconds, true)), '>= 0.97'),
    );
    return rows;
  } finally {
    await lab.destroy();
  }
}
