// The real-server eBPF path's kernel floor, proven on the kernel itself:
// Debian 11 (bullseye) ships Linux 5.10. This fetches its newest 5.10 image
// through APT with a private configuration (bullseye sources, lists and cache
// under .cache/vm/apt-bullseye: the host's APT setup is not touched), unpacks
// it beside the VM harness's other kernels, and boots it with that harness
// (test/vm/guest.ts) to run a script.
//
//   tsx test/tools/kernel-5.10.ts                 fetch, print the kernel's paths
//   tsx test/tools/kernel-5.10.ts SCRIPT.sh       also run SCRIPT.sh in the guest
//                                                 (exit status: the script's)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runGuest } from '../vm/guest.js';
import { cacheRoot, unpackPackages, type Kernel } from '../vm/kernels.js';

const aptRoot = join(cacheRoot, 'apt-bullseye');

/** apt-get / apt-cache options that point every APT path at the private folder. */
function aptOptions(): string[] {
  const sources = join(aptRoot, 'sources.list');
  const keys = (name: string): string => `/usr/share/keyrings/debian-archive-${name}.gpg`;
  for (const k of ['bullseye-stable', 'bullseye-security-automatic']) {
    if (!existsSync(keys(k))) throw new Error(`${keys(k)} missing: install debian-archive-keyring`);
  }
  mkdirSync(join(aptRoot, 'lists/partial'), { recursive: true });
  mkdirSync(join(aptRoot, 'cache/archives/partial'), { recursive: true });
  writeFileSync(
    sources,
    `deb [signed-by=${keys('bullseye-stable')}] http://deb.debian.org/debian bullseye main\n` +
      `deb [signed-by=${keys('bullseye-security-automatic')}] http://deb.debian.org/debian-security bullseye-security main\n`,
  );
  return [
    '-o', `Dir::Etc::SourceList=${sources}`,
    '-o', 'Dir::Etc::SourceParts=-',
    '-o', `Dir::State::Lists=${join(aptRoot, 'lists')}`,
    '-o', `Dir::Cache=${join(aptRoot, 'cache')}`,
    '-o', 'Dir::Cache::pkgcache=',
    '-o', 'Dir::Cache::srcpkgcache=',
    '-o', 'APT::Sandbox::User=root',
  ];
}

/** Newest linux-image-5.10.0-N-amd64 bullseye offers (unsigned image preferred: same kernel, no shim). */
function choose(opts: string[]): { release: string; pkg: string } {
  const search = (): string[] =>
    execFileSync('apt-cache', [...opts, 'search', '--names-only', '^linux-image-5\\.10\\.0-[0-9]+-amd64(-unsigned)?$'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.split(' ')[0]!)
      .filter(Boolean);
  let names = existsSync(join(aptRoot, 'lists')) ? search() : [];
  if (names.length === 0) {
    execFileSync('apt-get', [...opts, 'update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'] });
    names = search();
  }
  const releases = [...new Set(names.map((n) => /^linux-image-(5\.10\.0-\d+-amd64)/.exec(n)?.[1]).filter((x): x is string => !!x))];
  releases.sort((a, b) => Number(/-(\d+)-/.exec(b)![1]) - Number(/-(\d+)-/.exec(a)![1]));
  const release = releases[0];
  if (!release) throw new Error('no linux-image-5.10.0-*-amd64 in bullseye (apt-cache search found none)');
  const pkg = names.includes(`linux-image-${release}-unsigned`) ? `linux-image-${release}-unsigned` : `linux-image-${release}`;
  return { release, pkg };
}

/** Downloads and unpacks (once) the newest bullseye 5.10 kernel. */
export function fetchKernel510(log: (s: string) => void = () => {}): Kernel {
  const opts = aptOptions();
  const { release, pkg } = choose(opts);
  const dir = join(cacheRoot, release);
  unpackPackages(dir, [pkg], opts, log);
  const k = {
    series: '5.10' as Kernel['series'], // not one of the harness's series: only used in messages
    release,
    dir,
    vmlinuz: join(dir, 'boot', `vmlinuz-${release}`),
    modules: join(dir, 'lib/modules', release),
    kdir: dir, // no headers: nothing is built for this kernel
  };
  for (const p of [k.vmlinuz, k.modules]) if (!existsSync(p)) throw new Error(`kernel ${release}: ${p} missing after unpack`);
  return k;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const kernel = fetchKernel510((m) => process.stderr.write(`kernel-5.10: ${m}\n`));
  const script = process.argv[2];
  if (!script) {
    console.log(JSON.stringify(kernel));
    process.exit(0);
  }
  const run = await runGuest(kernel, {
    script: readFileSync(script, 'utf8'),
    onConsole: process.env.TOA_VM_VERBOSE ? (l) => process.stdout.write(`${l}\n`) : undefined,
    timeoutMs: Number(process.env.TOA_VM_TIMEOUT_MS ?? 1_800_000),
  });
  const log = join(run.resultsDir, 'guest.log');
  process.stdout.write(existsSync(log) ? readFileSync(log, 'utf8') : run.console.slice(-4000));
  process.stderr.write(`kernel-5.10: ${kernel.release}: ${run.seconds.toFixed(0)} s, rc=${run.exitCode}, timedOut=${run.timedOut}, results in ${run.resultsDir}\n`);
  for (const p of run.kernelProblems) process.stderr.write(`kernel-5.10: kernel problem: ${p}\n`);
  process.exit(run.exitCode ?? 1);
}
