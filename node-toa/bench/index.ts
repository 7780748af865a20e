/**
 * node-toa's benchmarks: the first peer() on a new connection per backend
 * and situation, and Express with and without the middleware. benchNode()
 * returns rows for the repository's `npm run bench` table; run this file
 * directly to print them:
 *   npx tsx node-toa/bench/index.ts [--rounds N] [--seconds S]
 */
import { parseArgs } from 'node:util';
import { row, table, type Row } from '../../test/bench/stats.js';
import { benchExpress, type Variant } from './express.js';
import { benchFirstPeer } from './peer.js';
import { bpfUnavailable } from '../test/helpers/bpfmap.js';

export { benchExpress } from './express.js';
export { benchFirstPeer } from './peer.js';

export async function benchNode(opts: { rounds?: number; seconds?: number } = {}): Promise<Row[]> {
  const rows: Row[] = [];
  const first = await benchFirstPeer({ rounds: opts.rounds ?? 5 });
  for (const r of first.rows) {
    // With a record the goal is absolute; with nothing to read, peer() may add 0.3 us to remoteAddress.
    const goal = r.backend !== 'native' ? '' : r.situation === 'record found' ? '<= 1500 ns' : r.situation === 'nothing pinned' ? '<= baseline + 300 ns' : '';
    rows.push(row(`first peer(), ${r.backend}, ${r.situation} vs remoteAddress`, 'ns', 'lower', { baseline: r.remoteAddress, feature: r.peer }, goal));
  }
  for (const s of first.skipped) process.stderr.write(`bench node: not measured: ${s}\n`);
  const noBpf = bpfUnavailable();
  if (noBpf) process.stderr.write(`bench node: not measured: the Express rows: ${noBpf}\n`);
  if (noBpf) return rows;
  const express = await benchExpress({ rounds: opts.rounds ?? 6, seconds: opts.seconds ?? 3 });
  for (const r of express.rates) {
    const goal = r.mode === 'close' ? 0.95 : 0.98;
    const vsNone = (v: Variant, label: string, withGoal: boolean) => {
      rows.push(row(`Express req/s, ${r.mode}: ${label} vs none`, 'req/s', 'higher', { baseline: r.rate.none, feature: r.rate[v] }, withGoal ? `>= ${goal}` : ''));
      rows.push(row(`  CPU per request, the same`, 'ns', 'lower', { baseline: r.cpu.none, feature: r.cpu[v] }, withGoal ? `<= ${(1 / goal).toFixed(3)}` : ''));
    };
    vsNone('express()', 'toa.express()', true);
    // What any middleware costs, and what is left to toa's own work.
    vsNone('empty middleware', 'an empty middleware', false);
    rows.push(row(`  toa.express() vs an empty middleware`, 'req/s', 'higher', { baseline: r.rate['empty middleware'], feature: r.rate['express()'] }, ''));
    vsNone('install()', 'toa.install()', true);
  }
  rows.push(row('first express() call per connection, loaded, vs remoteAddress', 'ns', 'lower', { baseline: express.underLoad.remoteAddress, feature: express.underLoad.toa }, ''));
  rows.push(row('express() per kept-alive request vs an empty middleware', 'ns', 'lower', { baseline: express.calls.empty, feature: express.calls.toa }, ''));
  return rows;
}

if (require.main === module) {
  const { values } = parseArgs({ options: { rounds: { type: 'string' }, seconds: { type: 'string' } } });
  benchNode({ rounds: values.rounds ? Number(values.rounds) : undefined, seconds: values.seconds ? Number(values.seconds) : undefined })
    .then((rows) => process.stdout.write(`${table('node-toa: first peer() per connection, and Express throughput', rows)}\n`))
    .catch((e) => {
      process.stderr.write(`bench: ${e instanceof Error ? e.stack : String(e)}\n`);
      process.exit(1);
    });
}
