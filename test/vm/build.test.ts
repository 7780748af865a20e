/**
 * The module build the VM bench uses to compare revisions (`bench.ts --against REV`):
 * toa.ko built from a git revision is the same build as the tree's when the
 * revision holds the tree's module sources, and a bad revision fails clearly
 * without reaching git as an option.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildModule, buildModuleAt } from './build.js';
import { vmUnavailable } from './guest.js';
import { fetchKernel, repoRoot } from './kernels.js';

const why = vmUnavailable();
if (why) console.warn(`skipping the revision build tests: ${why}`);
// A working tree with uncommitted module changes builds something HEAD does not hold.
const dirty = execFileSync('git', ['-C', repoRoot, 'status', '--porcelain', '--', 'kernel-module', 'include/toa'], { encoding: 'utf8' }).trim();

describe.skipIf(why)('toa.ko built from a git revision', () => {
  it.skipIf(dirty)(`HEAD's sources give the tree's own build${dirty ? ' (skipped: uncommitted module changes)' : ''}`, () => {
    const kernel = fetchKernel('6.1');
    const tree = buildModule(kernel);
    const head = buildModuleAt(kernel, 'HEAD');
    expect(head.ko).toBe(tree.ko);
    expect(existsSync(head.ko)).toBe(true);
  });

  it('refuses a revision that is no commit, and one that looks like an option', () => {
    const kernel = fetchKernel('6.1');
    expect(() => buildModuleAt(kernel, 'no-such-revision')).toThrow(/Needed a single revision/);
    rmSync('/tmp/toa-rev-option-test', { force: true });
    expect(() => buildModuleAt(kernel, '--output=/tmp/toa-rev-option-test')).toThrow(/Needed a single revision/);
    expect(existsSync('/tmp/toa-rev-option-test')).toBe(false);
  });
});
