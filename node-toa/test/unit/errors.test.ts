// Bad input gives a clear error with a code, never a crash; permission
// problems say so (strict) or fall back with a warning.
import { spawnSync } from 'node:child_process';
import { openSync, closeSync, chmodSync } from 'node:fs';
import { once } from 'node:events';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import { describe, expect, test } from 'vitest';
import { loadFfi } from '../../src/backends/ffi.js';
import { loadNative } from '../../src/backends/native.js';
import { create, ToaError } from '../../src/index.js';
import { bpfUnavailable, TestMap } from '../helpers/bpfmap.js';

const repo = join(__dirname, '../../..');
const tsx = join(repo, 'node_modules/tsx/dist/cli.mjs');
const toa = create({ backend: 'native' });

describe('bad arguments', () => {
  test.each([undefined, null, 42, 'socket', {}, [], { socket: 5 }])('peer(%j): TOA_EINVAL naming what it got', (x) => {
    let err: unknown;
    try {
      toa.peer(x as never);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ToaError);
    expect(err).toMatchObject({ code: expect.stringMatching(/TOA_EINVAL|TOA_ESOCKCLOSED/), message: expect.stringMatching(/toa: /) });
  });

  test('a request whose socket is gone: TOA_ESOCKCLOSED', () => {
    expect(() => toa.peer({ socket: null } as never)).toThrow(expect.objectContaining({ code: 'TOA_ESOCKCLOSED' }));
  });

  test('a TLS socket over a JavaScript stream has no fd: TOA_ENOFD', () => {
    const duplex = new Duplex({ read() {}, write(_c, _e, cb) { cb(); } });
    const s = new TLSSocket(duplex);
    try {
      expect(() => toa.peer(s)).toThrow(expect.objectContaining({ code: 'TOA_ENOFD', message: expect.stringMatching(/no file descriptor/) }));
    } finally {
      s.destroy();
    }
  });

  test('a Unix domain socket: TOA_ENOTINET', async () => {
    const path = join(tmpdir(), `toa-unix-${process.pid}.sock`);
    const server = net.createServer();
    server.listen(path);
    await once(server, 'listening');
    const accepted = once(server, 'connection');
    const c = net.connect(path);
    const [s] = (await accepted) as [net.Socket];
    try {
      expect(() => toa.peer(s)).toThrow(expect.objectContaining({ code: 'TOA_ENOTINET', message: expect.stringMatching(/not a TCP\/IP socket/) }));
    } finally {
      c.destroy();
      s.destroy();
      server.close();
    }
  });

  test('create() checks its options', () => {
    expect(() => create({ backend: 'nope' as never })).toThrow(expect.objectContaining({ code: 'TOA_EINVAL', message: expect.stringMatching(/native, ffi, socket.*"nope"/) }));
    expect(() => create({ pinDir: '' })).toThrow(expect.objectContaining({ code: 'TOA_EINVAL' }));
    expect(() => create(7 as never)).toThrow(expect.objectContaining({ code: 'TOA_EINVAL' }));
  });

  test('install() refuses what is not a server', () => {
    expect(() => toa.install({} as never)).toThrow(expect.objectContaining({ code: 'TOA_EINVAL' }));
  });

  test('a bad TOA_BACKEND stops the import with a clear message and a non-zero exit', { timeout: 30_000 }, () => {
    const r = spawnSync(process.execPath, [tsx, '-e', "require('./node-toa/src/index.ts')"], {
      cwd: repo, env: { ...process.env, TOA_BACKEND: 'bogus' }, encoding: 'utf8',
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/TOA_BACKEND must be one of native, ffi, socket, got "bogus"/);
  });
});

describe.each([
  ['native', () => loadNative().backend],
  ['ffi', () => loadFfi().backend],
])('%s backend: system-call level checks', (_name, load) => {
  const b = load();

  test('arguments are checked and throw TypeError with TOA_EINVAL, never abort', () => {
    const out = new Uint8Array(44);
    const m = b.open('/sys/fs/bpf/toanode-none/records');
    for (const [fd, buf] of [['3', out], [-1, out], [1.5, out], [2 ** 40, out], [3, new Uint8Array(3)], [3, [1, 2]], [3, undefined]] as const) {
      expect(() => m.lookup(fd as never, buf as never), `lookup(${String(fd)})`).toThrow(expect.objectContaining({ code: 'TOA_EINVAL' }));
    }
    expect(() => b.getpeername('x' as never)).toThrow(expect.objectContaining({ code: 'TOA_EINVAL' }));
    expect(() => b.open('a\0b')).toThrow(expect.objectContaining({ code: 'TOA_EINVAL' }));
  });

  test('an fd that is not open: TOA_EBADF; a file: TOA_ENOTSOCK', () => {
    const m = b.open('/sys/fs/bpf/toanode-none/records');
    const out = new Uint8Array(44);
    expect(() => m.lookup(1_000_000, out)).toThrow(expect.objectContaining({ code: 'TOA_EBADF' }));
    const fd = openSync(__filename, 'r');
    try {
      expect(() => m.lookup(fd, out)).toThrow(expect.objectContaining({ code: 'TOA_ENOTSOCK' }));
      expect(() => b.getpeername(fd)).toThrow(expect.objectContaining({ code: 'TOA_ENOTSOCK' }));
    } finally {
      closeSync(fd);
    }
  });
});

const noBpf = bpfUnavailable();
describe.skipIf(noBpf)(`permission${noBpf ? ` (skipped: ${noBpf})` : ''}`, () => {
  // An unprivileged process (nobody) cannot open a root-only pin: the file's
  // mode (EACCES) is the cause, and the hint says so rather than CAP_BPF.
  function asNobody(backend: string, pinDir: string, strict: boolean) {
    const r = spawnSync(process.execPath, [tsx, join(__dirname, '../fixtures/peer-child.ts')], {
      cwd: repo, uid: 65534, gid: 65534, encoding: 'utf8', timeout: 30_000,
      env: { ...process.env, TOA_BACKEND: backend, TOA_PIN_DIR: pinDir, TOA_TEST_STRICT: strict ? '1' : '0', HOME: '/tmp' },
    });
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout);
  }

  test.each(['native', 'ffi'])('%s: TOA_EPERM when strict, else the socket address and one warning', (backend) => {
    const map = new TestMap('perm');
    try {
      chmodSync(map.pinDir, 0o755);
      const strict = asNobody(backend, map.pinDir, true);
      expect(strict).toMatchObject({ code: 'TOA_EPERM', message: expect.stringMatching(/bpf\(BPF_OBJ_GET\): permission denied \(the pin file's permissions deny this user/) });
      expect(strict.message).not.toMatch(/CAP_BPF/);
      const lenient = asNobody(backend, map.pinDir, false);
      expect(lenient.peer).toMatchObject({ address: '127.0.0.1', via: 'socket' });
      expect(lenient.warnings).toEqual([expect.stringMatching(/^TOA_EPERM: .*permissions deny this user/)]);
    } finally {
      map.destroy();
    }
  }, 60_000); // two children through tsx, as another user
});
