/** The connection-rate measure both lab benchmarks use. */
import { ADDR, type Lab } from '../lab/index.js';

/** wrk from the client against the IPv4 VIP, one request per connection: connections per second and in all. */
export async function wrkConnections(lab: Lab, port: number, seconds: number): Promise<{ rate: number; total: number }> {
  const out = await lab.execOk('client', [
    'wrk', '-t1', '-c32', `-d${seconds}s`, '-H', 'Connection: close', `http://${ADDR.vip4}:${port}/`,
  ], { timeoutMs: (seconds + 30) * 1000 });
  const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const n = /(\d+) requests in/.exec(out);
  if (!m || !n) throw new Error(`wrk printed no rate:\n${out}`);
  return { rate: Number(m[1]), total: Number(n[1]) };
}

/** Connections per second. */
export async function connRate(lab: Lab, port: number, seconds: number): Promise<number> {
  return (await wrkConnections(lab, port, seconds)).rate;
}
