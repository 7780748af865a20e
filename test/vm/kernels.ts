// Debian kernel packages for the VM runs: pick the newest 6.1 / 6.12 build the
// archive offers (chosen at run time, so a vanished revision never breaks CI),
// download image + headers + kbuild with apt, unpack them into a cache folder
// that survives between runs, and make the headers usable as a KDIR.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../..');
export const cacheRoot = join(repoRoot, '.cache/vm');

export type Series = '6.1' | '6.12';

export interface Kernel {
  series: Series;
  /** uname -r of the guest, e.g. 6.1.0-56-amd64 */
  release: string;
  /** unpacked packages live here */
  dir: string;
  vmlinuz: string;
  /** <dir>/lib/modules/<release> */
  modules: string;
  /** headers tree usable as `make KDIR=` */
  kdir: string;
}

function apt(args: string[]): string {
  return execFileSync('apt-cache', args, { encoding: 'utf8' });
}

function names(pattern: string): string[] {
  return apt(['search', '--names-only', pattern])
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter(Boolean);
}

function hasCandidate(pkg: string): boolean {
  const out = spawnSync('apt-cache', ['policy', pkg], { encoding: 'utf8' }).stdout ?? '';
  const m = /Candidate:\s*(\S+)/.exec(out);
  return !!m && m[1] !== '(none)';
}

/** Highest first, comparing the numeric parts (6.1.0-56 > 6.1.0-9). */
function byVersionDesc(a: string, b: string): number {
  const na = a.match(/\d+/g)!.map(Number);
  const nb = b.match(/\d+/g)!.map(Number);
  for (let i = 0; i < Math.max(na.length, nb.length); i++) {
    const d = (nb[i] ?? -1) - (na[i] ?? -1);
    if (d) return d;
  }
  return 0;
}

interface Choice {
  release: string;
  packages: string[];
}

/** The newest complete set (image, headers, common headers, kbuild) for a series. */
export function chooseKernel(series: Series): Choice {
  let abis: string[] = [];
  for (let attempt = 0; attempt < 2 && abis.length === 0; attempt++) {
    const re = series === '6.1' ? /^linux-headers-(6\.1\.0-\d+)-amd64$/ : /^linux-headers-(6\.12\.\d+\+deb\d+)-amd64$/;
    abis = names(`^linux-headers-${series.replace('.', '\\.')}`)
      .map((n) => re.exec(n)?.[1])
      .filter((x): x is string => !!x)
      .sort(byVersionDesc);
    if (abis.length === 0 && attempt === 0) {
      // A fresh machine may have no package lists yet.
      execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    }
  }
  for (const abi of abis) {
    const release = `${abi}-amd64`;
    const kbuild = series === '6.1' ? 'linux-kbuild-6.1' : `linux-kbuild-${abi}`;
    const image = [`linux-image-${release}-unsigned`, `linux-image-${release}`].find(hasCandidate);
    const rest = [`linux-headers-${release}`, `linux-headers-${abi}-common`, kbuild];
    if (image && rest.every(hasCandidate)) return { release, packages: [image, ...rest] };
  }
  throw new Error(`no complete Debian kernel ${series} package set found by apt-cache (image, headers, common, kbuild)`);
}

/**
 * Absolute symlinks inside the unpacked tree (headers -> kbuild scripts, the
 * modules' build link) point at the host's /usr or /lib; make them relative
 * to the unpack folder so the tree is self-contained.
 */
function relinkAbsolute(root: string, dir = root): void {
  for (const ent of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, ent.name);
    if (ent.isSymbolicLink()) {
      const target = readlinkSync(p);
      if (target.startsWith('/')) {
        rmSync(p);
        symlinkSync(relative(dirname(p), join(root, target)) || '.', p);
      }
    } else if (ent.isDirectory()) {
      relinkAbsolute(root, p);
    }
  }
}

/** The flavour's headers Makefile includes the common one by absolute path: make it relative to itself. */
function relativeHeaderInclude(root: string): void {
  const src = join(root, 'usr/src');
  for (const d of readdirSync(src)) {
    const mk = join(src, d, 'Makefile');
    if (!d.startsWith('linux-headers-') || d.endsWith('-common') || !existsSync(mk)) continue;
    const text = readFileSync(mk, 'utf8').replace(
      /^include \/usr\/src\/([^/\s]+)\/Makefile$/m,
      'include $(dir $(realpath $(lastword $(MAKEFILE_LIST))))../$1/Makefile',
    );
    writeFileSync(mk, text);
  }
}

/** Download and unpack (once) the newest kernel of a series; returns its paths. */
export function fetchKernel(series: Series, log: (s: string) => void = () => {}): Kernel {
  mkdirSync(cacheRoot, { recursive: true });
  let choice: Choice | undefined;
  try {
    choice = chooseKernel(series);
  } catch (e) {
    // Offline or no lists: reuse the newest cached tree of this series.
    const hit = readdirSync(cacheRoot)
      .filter((d) => d.startsWith(series === '6.1' ? '6.1.0-' : '6.12.') && existsSync(join(cacheRoot, d, '.complete')))
      .sort(byVersionDesc)[0];
    if (!hit) throw e;
    log(`apt-cache failed (${(e as Error).message}); using cached ${hit}`);
    return kernelAt(series, hit);
  }
  unpackPackages(join(cacheRoot, choice.release), choice.packages, ['-o', 'APT::Sandbox::User=root'], log, (tmp) => {
    relinkAbsolute(tmp);
    relativeHeaderInclude(tmp);
  });
  return kernelAt(series, choice.release);
}

/**
 * Downloads Debian packages with apt-get (aptArgs: extra options, such as
 * another sources list) and unpacks them into dir once: the work happens in a
 * temporary folder renamed into place, so a half-done unpack is never taken
 * for a complete one.
 */
export function unpackPackages(
  dir: string,
  packages: string[],
  aptArgs: string[],
  log: (s: string) => void,
  fixup: (tmp: string) => void = () => {},
): void {
  if (existsSync(join(dir, '.complete'))) return;
  log(`downloading ${packages.join(' ')}`);
  const dl = join(cacheRoot, `.dl-${process.pid}`);
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(dl, { recursive: true, force: true });
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(dl, { recursive: true });
  mkdirSync(tmp, { recursive: true });
  try {
    execFileSync('apt-get', [...aptArgs, 'download', '-qq', ...packages], { cwd: dl, stdio: ['ignore', 'ignore', 'inherit'] });
    for (const deb of readdirSync(dl).filter((f) => f.endsWith('.deb'))) execFileSync('dpkg-deb', ['-x', join(dl, deb), tmp]);
    fixup(tmp);
    writeFileSync(join(tmp, '.complete'), packages.join('\n') + '\n');
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } finally {
    rmSync(dl, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
  }
}

function kernelAt(series: Series, release: string): Kernel {
  const dir = join(cacheRoot, release);
  const k: Kernel = {
    series,
    release,
    dir,
    vmlinuz: join(dir, 'boot', `vmlinuz-${release}`),
    modules: join(dir, 'lib/modules', release),
    kdir: join(dir, 'usr/src', `linux-headers-${release}`),
  };
  for (const p of [k.vmlinuz, k.modules, k.kdir]) {
    if (!existsSync(p) && !lstatSync(p, { throwIfNoEntry: false })) throw new Error(`kernel ${release}: ${p} missing after unpack`);
  }
  return k;
}

// `tsx test/vm/kernels.ts [6.1|6.12]...`: fetch ahead of time, print the paths.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const want = (process.argv.slice(2).length ? process.argv.slice(2) : ['6.1', '6.12']) as Series[];
  for (const s of want) {
    if (s !== '6.1' && s !== '6.12') {
      process.stderr.write(`kernels: unknown series "${s}" (want 6.1 or 6.12)\n`);
      process.exit(2);
    }
    console.log(JSON.stringify(fetchKernel(s, (m) => process.stderr.write(`kernels: ${m}\n`))));
  }
}
