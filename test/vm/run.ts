// Developer entry point: boot a kernel and run a shell script in it.
//   tsx test/vm/run.ts 6.1|6.12 SCRIPT.sh [--icount]   (prints the console, exits with the script's status)
// --icount: one vCPU whose clock counts instructions (see GuestOptions.icount), for figures that repeat.
// The module is built for that kernel first; $TOA_KO in the script is its path, $TOA_SEND the raw TOA sender.
import { existsSync, readFileSync } from 'node:fs';
import { buildModule, buildTools } from './build.js';
import { runGuest } from './guest.js';
import { fetchKernel, type Series } from './kernels.js';

const [series, scriptPath, clock, ...rest] = process.argv.slice(2);
if ((series !== '6.1' && series !== '6.12') || !scriptPath || (clock !== undefined && clock !== '--icount') || rest.length) {
  process.stderr.write('usage: tsx test/vm/run.ts 6.1|6.12 SCRIPT.sh [--icount]\n');
  process.exit(2);
}
const kernel = fetchKernel(series as Series, (m) => process.stderr.write(`vm: ${m}\n`));
const build = buildModule(kernel);
const tools = buildTools();
const run = await runGuest(kernel, {
  script: `export TOA_KO='${build.ko}' TOA_SEND='${tools['toa-send']}'\n${readFileSync(scriptPath, 'utf8')}`,
  onConsole: (l) => process.stdout.write(`${l}\n`),
  ...(clock ? { cpus: 1, icount: true } : {}),
  timeoutMs: Number(process.env.TOA_VM_TIMEOUT_MS ?? 900_000),
});
const log = `${run.resultsDir}/guest.log`;
if (existsSync(log)) process.stdout.write(readFileSync(log, 'utf8'));
process.stderr.write(`vm: ${run.seconds.toFixed(1)} s, rc=${run.exitCode}, timedOut=${run.timedOut}, results in ${run.resultsDir}\n`);
for (const p of run.kernelProblems) process.stderr.write(`vm: kernel problem: ${p}\n`);
process.exit(run.exitCode ?? 1);
