// Public types, through the published entry points (ESM and CommonJS), and
// the examples type-check against them.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, test } from 'vitest';

test('types/public.mts, public.cts and examples/ compile', () => {
  const tsc = join(__dirname, '../../../node_modules/typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(__dirname, '../types/tsconfig.json')], { encoding: 'utf8', timeout: 120_000 });
  expect(`${r.stdout}${r.stderr}`).toBe('');
  expect(r.status).toBe(0);
}, 120_000);
