// Builds toa.ko against an unpacked Debian headers tree, in a copy of the
// sources per kernel (as DKMS does), so builds for several kernels never mix.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, type Kernel } from './kernels.js';

export interface ModuleBuild {
  ko: string;
  /** compiler/modpost lines with "warning" (the module must build without any) */
  warnings: string[];
  output: string;
}

export function buildModule(kernel: Kernel): ModuleBuild {
  const src = join(repoRoot, 'kernel-module');
  const dir = join(kernel.dir, 'toa-build');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'include/toa'), { recursive: true });
  for (const f of readdirSync(src)) if (/\.(c|h)$|^Kbuild$|^Makefile$/.test(f)) copyFileSync(join(src, f), join(dir, f));
  for (const f of readdirSync(join(repoRoot, 'include/toa'))) copyFileSync(join(repoRoot, 'include/toa', f), join(dir, 'include/toa', f));
  const r = spawnSync('make', ['-C', kernel.kdir, `M=${dir}`, 'modules'], { encoding: 'utf8' });
  const output = `${r.stdout}${r.stderr}`;
  if (r.status !== 0) throw new Error(`toa.ko build for ${kernel.release} failed:\n${output}`);
  return { ko: join(dir, 'toa.ko'), warnings: output.split('\n').filter((l) => /warning/i.test(l)), output };
}

/** modinfo-style fields of a built module (vermagic, parm), read from its .modinfo section. */
export function modinfo(ko: string): Record<string, string[]> {
  const raw = execFileSync('objcopy', ['-O', 'binary', '--only-section=.modinfo', ko, '/dev/stdout'], { maxBuffer: 1 << 20 });
  const out: Record<string, string[]> = {};
  for (const kv of raw.toString().split('\0').filter(Boolean)) {
    const i = kv.indexOf('=');
    (out[kv.slice(0, i)] ??= []).push(kv.slice(i + 1));
  }
  return out;
}
