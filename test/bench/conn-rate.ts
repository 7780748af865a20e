/** The connection-rate measure both lab benchmarks use. */
import { ADDR, type Lab } from '../lab/index.js';

/** wrk from the client against the IPv4 VIP, one request per connection: connections per second. */
export async function connRate(lab: Lab, port: number, seconds: number): Promise<number> {
  const out = await lab.execOk('client', [
    'wrk', '-t1', '-c32', `-d${seconds}s`, '-H', 'Connection: close', `http://${ADDR.vip4}:${port}/`,
  ], { timeoutMs: (seconds + 30) * 1000 });
  const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!m) throw new Error(`wrk printed no rate:\n${out}`);
  return Number(m[1]);
}
