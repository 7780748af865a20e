// Builds toa.ko against an unpacked Debian headers tree, in a copy of the
// sources per kernel (as DKMS does), so builds for several kernels never mix.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, type Kernel } from './kernels.js';

export interface ModuleBuild {
  ko: string;
  /** compiler/modpost lines with "warning" (the module must build without any) */
  warnings: string[];
  output: string;
}

/**
 * Builds (or reuses) toa.ko for a kernel, from the tree at root (the
 * repository's by default). The build folder is named after a hash of the
 * sources and never changed once complete, so runs going on at the same
 * time (other engineers', CI's) can share it safely.
 */
export function buildModule(kernel: Kernel, root = repoRoot): ModuleBuild {
  const files: [string, string][] = [];
  const src = join(root, 'kernel-module');
  for (const f of readdirSync(src).sort()) if (/\.(c|h)$|^Kbuild$|^Makefile$/.test(f)) files.push([join(src, f), f]);
  const inc = join(root, 'include/toa');
  for (const f of readdirSync(inc).sort()) files.push([join(inc, f), `include/toa/${f}`]);
  const hash = createHash('sha256');
  for (const [path, name] of files) hash.update(name).update(readFileSync(path));
  const dir = join(kernel.dir, `toa-build-${hash.digest('hex').slice(0, 12)}`);
  const ko = join(dir, 'toa.ko');
  if (existsSync(ko)) return { ko, warnings: [], output: '(cached)' };

  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(join(tmp, 'include/toa'), { recursive: true });
  for (const [path, name] of files) copyFileSync(path, join(tmp, name));
  const r = spawnSync('make', ['-C', kernel.kdir, `M=${tmp}`, 'modules'], { encoding: 'utf8' });
  const output = `${r.stdout}${r.stderr}`;
  if (r.status !== 0) {
    rmSync(tmp, { recursive: true, force: true });
    throw new Error(`toa.ko build for ${kernel.release} failed:\n${output}`);
  }
  try {
    renameSync(tmp, dir);
  } catch {
    rmSync(tmp, { recursive: true, force: true }); // another run finished the same build first
  }
  return { ko, warnings: output.split('\n').filter((l) => /warning/i.test(l)), output };
}

/**
 * toa.ko as a git revision had it (for side-by-side benches): its module
 * sources are taken out of git into a scratch folder and built as above.
 */
export function buildModuleAt(kernel: Kernel, rev: string): ModuleBuild {
  // The commit's hash, never the argument itself: a revision starting with '-' would be an option to git archive.
  // execFileSync's errors carry the command and its stderr (git's own "Needed a single revision").
  const quiet = { stdio: 'pipe' as const, maxBuffer: 64 << 20 };
  const commit = execFileSync('git', ['-C', repoRoot, 'rev-parse', '--verify', '--end-of-options', `${rev}^{commit}`], { ...quiet, encoding: 'utf8' }).trim();
  const tmp = mkdtempSync(join(tmpdir(), 'toa-rev-'));
  try {
    const tar = execFileSync('git', ['-C', repoRoot, 'archive', '--format=tar', commit, 'kernel-module', 'include/toa'], quiet);
    execFileSync('tar', ['-x', '-C', tmp], { ...quiet, input: tar });
    return buildModule(kernel, tmp);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The in-guest helpers written in C (the guest runs host binaries over 9p). Returns name -> path. */
export function buildTools(): Record<string, string> {
  const out = join(repoRoot, '.cache/vm/tools');
  mkdirSync(out, { recursive: true });
  const tools: Record<string, string> = {};
  // name -> the libraries it links (the guest runs the host's, through its root)
  const libs: Record<string, string[]> = { 'toa-send': [], 'getpeername-bench': [], 'peer-hammer': [], 'fentry-hold': ['-lbpf'] };
  for (const [name, lib] of Object.entries(libs)) {
    const bin = join(out, name);
    const tmp = `${bin}.tmp-${process.pid}`;
    const src = join(repoRoot, 'test/vm/guest', `${name}.c`);
    const r = spawnSync('gcc', ['-O2', '-Wall', '-Wextra', '-Werror', '-pthread', '-I', join(repoRoot, 'include'), '-o', tmp, src, ...lib], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`building ${name} failed:\n${r.stdout}${r.stderr}`);
    renameSync(tmp, bin); // atomic: a guest running the old one keeps its file
    tools[name] = bin;
  }
  return tools;
}
