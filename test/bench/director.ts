/**
 * Director benchmark: connection rate (short HTTP requests, Connection: close)
 * and bulk throughput through the FullNAT director, TOA writer attached vs
 * detached, interleaved in one run.
 */
import { join } from 'node:path';
import { ADDR, createLab, REPO_ROOT, type Lab } from '../lab/index.js';
import { interleaved, row, type Row } from './stats.js';

const HTTP_PORT = 8080;
const IPERF_PORT = 5201;

export interface DirectorBenchOptions {
  rounds?: number;
  seconds?: number;
}

/** wrk against the VIP from the client: requests (= connections) per second. */
async function connRate(lab: Lab, seconds: number): Promise<number> {
  const out = await lab.execOk('client', [
    'wrk', '-t1', '-c32', `-d${seconds}s`, '-H', 'Connection: close', `http://${ADDR.vip4}:${HTTP_PORT}/`,
  ], { timeoutMs: (seconds + 30) * 1000 });
  const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!m) throw new Error(`wrk printed no rate:\n${out}`);
  return Number(m[1]);
}

/** iperf3 through the VIP: bits per second received, upload (client sends) or download. */
async function bulk(lab: Lab, seconds: number, download: boolean): Promise<number> {
  const out = await lab.execOk('client', [
    'iperf3', '-c', ADDR.vip4, '-p', String(IPERF_PORT), '-t', String(seconds), '-J', ...(download ? ['-R'] : []),
  ], { timeoutMs: (seconds + 30) * 1000 });
  return JSON.parse(out).end.sum_received.bits_per_second as number;
}

export async function benchDirector(opts: DirectorBenchOptions = {}): Promise<Row[]> {
  const rounds = opts.rounds ?? 3;
  const seconds = opts.seconds ?? 3;
  const lab = await createLab();
  try {
    const http = lab.spawn('realserver', [join(REPO_ROOT, 'test/bench/build/accept-loop'), String(HTTP_PORT)]);
    await http.waitFor(/listening/);
    await lab.tuneForLoad();
    const iperf = lab.spawn('realserver', ['iperf3', '-s', '--forceflush', '-p', String(IPERF_PORT)]);
    await iperf.waitFor(/listening/i);
    const off = async (f: () => Promise<number>): Promise<number> => f();
    const on = async (f: () => Promise<number>): Promise<number> => {
      await lab.attachWriter({ ports: [HTTP_PORT, IPERF_PORT] });
      try {
        return await f();
      } finally {
        await lab.detachWriter();
      }
    };
    const measure = (f: () => Promise<number>) => interleaved(rounds, () => off(f), () => on(f));
    return [
      row('director: connections/s (wrk, Connection: close)', 'c/s', 'higher', await measure(() => connRate(lab, seconds)), '>= 0.95'),
      row('director: bulk upload (iperf3, TOA in every segment)', 'b/s', 'higher', await measure(() => bulk(lab, seconds, false)), '>= 0.98'),
      row('director: bulk download (iperf3 -R)', 'b/s', 'higher', await measure(() => bulk(lab, seconds, true)), '>= 0.98'),
    ];
  } finally {
    await lab.destroy();
  }
}
