/** The connection-rate measure the lab benchmarks use. */
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

/**
 * Waits (at most 15 s) until the real server holds no half-open or open
 * connection on port from an earlier variant: a round that ends with SYN-ACKs
 * still being retransmitted (SYNPROXY without the writer's TSecr fix) would
 * otherwise stall the next round's first connections for seconds.
 */
export async function settle(lab: Lab, port: number): Promise<void> {
  for (let i = 0; i < 75; i++) {
    const out = await lab.execOk('realserver', ['ss', '-Htn', 'state', 'syn-recv', 'state', 'established', 'state', 'close-wait', 'state', 'last-ack', `( sport = :${port} )`]);
    if (!out.trim()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  process.stderr.write(`bench: connections to port ${port} still open on the real server after 15 s\n`);
}
