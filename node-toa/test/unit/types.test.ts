// The public types as users meet them: the published entry points (through
// package.json "exports", as installed in node_modules), ESM and CommonJS
// consumers, under moduleResolution node16, nodenext, bundler and node10,
// with the README's code blocks and examples/ compiled alongside.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';

const pkg = join(__dirname, '../..');
const repo = join(pkg, '..');
const tsc = join(repo, 'node_modules/typescript/bin/tsc');
const types = join(pkg, 'test/types');
// Snippets live inside the repository so 'node-toa', 'express', ... resolve as they would in an app.
const work = mkdtempSync(join(types, '.snippets-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The ```ts blocks of a Markdown file (from the heading `from` to the next heading of its level, if given). */
function tsBlocks(file: string, from?: string): string[] {
  let text = readFileSync(file, 'utf8');
  if (from) {
    const i = text.indexOf(`\n${from}\n`);
    const level = from.split(' ')[0];
    const j = text.indexOf(`\n${level} `, i + from.length + 2);
    text = text.slice(i, j < 0 ? undefined : j);
  }
  return [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
}

const snippets = [
  ...tsBlocks(join(pkg, 'README.md')).map((code, i) => [`package-readme-${i}`, code] as const),
  ...tsBlocks(join(repo, 'README.md'), '## Node.js: the `node-toa` package').map((code, i) => [`root-readme-${i}`, code] as const),
];
const snippetFiles = snippets.map(([name, code]) => {
  const f = join(work, `${name}.mts`);
  // Each block is its own module (export {}), as a user's file would be.
  writeFileSync(f, `${code}\nexport {};\n`);
  return f;
});
const examples = ['express', 'fastify', 'koa', 'net', 'https'].map((n) => join(repo, 'examples', `${n}.ts`));

function compile(mode: string, options: Record<string, unknown>, files: string[]): string {
  const config = join(work, `tsconfig.${mode}.json`);
  writeFileSync(config, JSON.stringify({
    compilerOptions: {
      target: 'ES2022', strict: true, noEmit: true, skipLibCheck: true, types: ['node'],
      typeRoots: [join(repo, 'node_modules/@types')], ...options,
    },
    files,
  }));
  const r = spawnSync(process.execPath, [tsc, '-p', config], { encoding: 'utf8', timeout: 120_000 });
  return `${r.stdout}${r.stderr}`.trim() || (r.status === 0 ? '' : `tsc exited with ${r.status}`);
}

test('the README has code to check', () => {
  expect(snippets.length).toBeGreaterThanOrEqual(3);
});

describe('types compile', () => {
  const esm = join(types, 'esm.mts');
  const cjs = join(types, 'cjs.cts');
  test.each([
    ['node16', { module: 'node16', moduleResolution: 'node16' }, [esm, cjs, ...snippetFiles, ...examples]],
    ['nodenext', { module: 'nodenext', moduleResolution: 'nodenext' }, [esm, cjs, ...snippetFiles, ...examples]],
    ['bundler', { module: 'preserve', moduleResolution: 'bundler' }, [esm, cjs, ...snippetFiles, ...examples]],
    ['node10 (CommonJS, esModuleInterop)', { module: 'commonjs', moduleResolution: 'node10', esModuleInterop: true }, [cjs]],
  ] as const)('%s: ESM and CommonJS consumers, README snippets, examples/', (mode, options, files) => {
    expect(compile(mode.split(' ')[0], options, [...files])).toBe('');
  }, 180_000);
});
