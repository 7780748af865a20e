#!/usr/bin/env node
// `npm run build` of the toa package: the native prebuild (prebuildify, into
// prebuilds/) and the TypeScript (dist/cjs, plus the ESM wrapper in dist/esm).
// Each step runs only when its inputs are newer than its outputs, because
// the repository's bootstrap runs this before every test run.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const force = process.argv.includes('--force');

function newest(paths) {
  let m = 0;
  for (const p of paths) {
    const full = join(pkg, p);
    if (!existsSync(full)) continue;
    const st = statSync(full);
    if (st.isDirectory()) m = Math.max(m, newest(readdirSync(full).map((f) => join(p, f))));
    else m = Math.max(m, st.mtimeMs);
  }
  return m;
}

function stale(inputs, output) {
  const out = join(pkg, output);
  return force || !existsSync(out) || statSync(out).mtimeMs < newest(inputs);
}

// node-gyp needs Node's headers and must not download them (builds run
// offline): use the ones installed next to this node when npm did not say.
const env = { ...process.env };
const headers = join(dirname(dirname(process.execPath)), 'include/node/node_api.h');
if (!env.npm_config_nodedir && existsSync(headers)) env.npm_config_nodedir = dirname(dirname(process.execPath));

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: pkg, stdio: 'inherit', env });
  if (r.error) throw r.error;
  if (r.status !== 0) {
    process.stderr.write(`node-toa build: ${cmd} ${args.join(' ')} exited with ${r.status}\n`);
    process.exit(1);
  }
}

function bin(name, file) {
  // Resolved through node so the build needs no PATH setup.
  return fileURLToPath(import.meta.resolve(`${name}/${file}`));
}

const prebuild = `prebuilds/${process.platform}-${process.arch}/toa.node`;
if (stale(['binding.gyp', 'src/native'], prebuild)) {
  run(process.execPath, [bin('prebuildify', 'bin.js'), '--napi', '--strip']);
}

if (stale(['src', 'tsconfig.json', 'scripts/build.mjs'], 'dist/cjs/index.js')) {
  run(process.execPath, [bin('typescript', 'bin/tsc'), '-p', 'tsconfig.json']);
  // The ESM entry re-exports the CommonJS build: one instance, one cache per
  // socket, however the app imports toa.
  mkdirSync(join(pkg, 'dist/esm'), { recursive: true });
  writeFileSync(join(pkg, 'dist/esm/package.json'), '{ "type": "module" }\n');
  const names = ['peer', 'install', 'express', 'fastify', 'koa', 'record', 'getpeername', 'backend', 'reset', 'create', 'ToaError'];
  writeFileSync(
    join(pkg, 'dist/esm/index.js'),
    `import toa from '../cjs/index.js';\nexport const { ${names.join(', ')} } = toa;\nexport default toa.default;\n`,
  );
  writeFileSync(join(pkg, 'dist/esm/index.d.ts'), `export * from '../cjs/index.js';\nexport { default } from '../cjs/index.js';\n`);
  writeFileSync(join(pkg, 'dist/cjs/package.json'), '{ "type": "commonjs" }\n');
}
