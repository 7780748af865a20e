/**
 * The toa package's benchmarks: peer() cost per backend, and Express with
 * and without the middleware. benchNode() returns rows for the repository's
 * `npm run bench` table; run this file directly to print them:
 *   npx tsx node-toa/bench/index.ts [--rounds N] [--seconds S]
 */
import { parseArgs } from 'node:util';
import { row, table, type Row } from '../../test/bench/stats.js';
import { benchExpress } from './express.js';
import { benchPeerCost } from './peer.js';

export { benchExpress } from './express.js';
export { benchPeerCost } from './peer.js';

export async function benchNode(opts: { rounds?: number; seconds?: number } = {}): Promise<Row[]> {
  const rows: Row[] = [];
  const cost = await benchPeerCost({ rounds: opts.rounds ?? 5 });
  const base = cost.rows.find((r) => r.name.startsWith('socket.remoteAddress, first'))!.nsPerOp;
  const baseCached = cost.rows.find((r) => r.name === 'socket.remoteAddress, cached')!.nsPerOp;
  for (const r of cost.rows.filter((x) => x.name.startsWith('peer()'))) {
    const perConnection = r.name.includes('lookup');
    rows.push({
      name: `${r.name}${cost.withRecord ? '' : ' [no map]'} vs remoteAddress`,
      unit: 'ns',
      better: 'lower',
      baseline: perConnection ? base : baseCached,
      feature: r.nsPerOp,
      goal: r.name.includes('native') && perConnection ? '<= 2000 ns' : '',
    });
  }
  for (const r of await benchExpress({ rounds: opts.rounds ?? 3, seconds: opts.seconds ?? 4 })) {
    rows.push(row(`Express req/s, ${r.mode}: toa.express() vs none`, 'req/s', 'higher', { baseline: r.without, feature: r.with }, r.mode === 'close' ? '>= 0.95' : '>= 0.98'));
  }
  return rows;
}

if (require.main === module) {
  const { values } = parseArgs({ options: { rounds: { type: 'string' }, seconds: { type: 'string' } } });
  benchNode({ rounds: values.rounds ? Number(values.rounds) : undefined, seconds: values.seconds ? Number(values.seconds) : undefined })
    .then((rows) => process.stdout.write(`${table('toa npm package: peer() cost and Express throughput', rows)}\n`))
    .catch((e) => {
      process.stderr.write(`bench: ${e instanceof Error ? e.stack : String(e)}\n`);
      process.exit(1);
    });
}
