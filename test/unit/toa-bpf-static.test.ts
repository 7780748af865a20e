/**
 * toa-bpf is one static binary: libbpf, libelf, zlib and libc linked in, so
 * a host or a container image needs nothing else. Proven by ldd and by
 * running it in a root holding nothing but itself.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TOA_BPF } from '../lab/index.js';

const built = existsSync(TOA_BPF);
const root = process.getuid?.() === 0;

describe.skipIf(!built)(`toa-bpf is static${built ? '' : ' (skipped: bpf/build/toa-bpf not built)'}`, () => {
  it('ldd: not a dynamic executable', () => {
    const r = spawnSync('ldd', [TOA_BPF], { encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`).toMatch(/not a dynamic executable/);
  });

  it.skipIf(!root)('runs in a root that holds only itself (no libc, no loader)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'toa-static-'));
    try {
      copyFileSync(TOA_BPF, join(dir, 'toa-bpf'));
      spawnSync('chmod', ['755', join(dir, 'toa-bpf')]);
      const r = spawnSync('unshare', ['--mount', `--root=${dir}`, '/toa-bpf', 'director', '--help'], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^Usage: toa-bpf director attach/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
