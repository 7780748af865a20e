/**
 * npm run bench [-- SECTION...]: every benchmark, each as ratios against a
 * baseline measured in the same run. Sections: director, fullnat-vm, synproxy, realserver, vm, node. Without arguments, all of them.
 */
import { labUnavailable } from '../lab/index.js';
import { benchNode } from '../../node-toa/bench/index.js';
import { benchDirector } from './director.js';
import { benchSynproxy } from './synproxy.js';
import { benchRealserver } from './realserver.js';
import { benchModuleRows } from '../vm/bench.js';
import { benchFullnatRows } from '../vm/bench-fullnat.js';
import { table, type Row } from './stats.js';

const sections: Record<string, { title: string; run: () => Promise<Row[]> }> = {
  director: { title: 'Director: TOA writer attached vs detached; whole FullNAT + TOA vs plain NAT', run: () => benchDirector() },
  'fullnat-vm': { title: 'FullNAT + TOA vs plain NAT step by step (connections, bulk), and SYNPROXY with no flood, in a Debian 6.12 guest (qemu TCG, its clock counting instructions)', run: () => benchFullnatRows('6.12') },
  synproxy: { title: 'Director behind SYNPROXY (--rs-dev) vs plain FullNAT + writer: a spoofed SYN flood, and the connection rate', run: () => benchSynproxy() },
  realserver: { title: 'Real-server eBPF path: attached vs detached (director writer on)', run: () => benchRealserver() },
  vm: { title: 'toa.ko in a Debian 6.1 guest (qemu TCG, its clock counting instructions): module loaded vs not', run: () => benchModuleRows('6.1') },
  node: { title: 'node-toa: first peer() per connection, and Express throughput', run: () => benchNode() },
};

async function main(): Promise<void> {
  const why = labUnavailable();
  if (why) {
    process.stderr.write(`bench: ${why}\n`);
    process.exit(1);
  }
  const wanted = process.argv.slice(2);
  for (const w of wanted) {
    if (!sections[w]) {
      process.stderr.write(`bench: unknown section '${w}' (have: ${Object.keys(sections).join(', ')})\n`);
      process.exit(2);
    }
  }
  for (const name of wanted.length ? wanted : Object.keys(sections)) {
    const s = sections[name];
    process.stdout.write(table(s.title, await s.run()) + '\n');
  }
}

void main().catch((e) => {
  process.stderr.write(`bench: ${e instanceof Error ? e.stack : e}\n`);
  process.exit(1);
});
