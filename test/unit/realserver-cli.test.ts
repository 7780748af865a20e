/**
 * toa-bpf realserver: what a user gets for bad input. Argument errors are
 * found before anything touches the kernel (exit 2, any user); the rest need
 * root and stop before attaching anything.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const TOA_BPF = join(ROOT, 'bpf/build/toa-bpf');
const isRoot = process.getuid?.() === 0;

function rs(args: string[], env: NodeJS.ProcessEnv = {}, prefix: string[] = []) {
  const argv = [...prefix, TOA_BPF, 'realserver', ...args];
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function cgroup2(): string | null {
  for (const line of readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
    const [, mnt, type] = line.split(' ');
    if (type === 'cgroup2') return mnt;
  }
  return null;
}

describe('toa-bpf realserver: argument errors', () => {
  it('is built (npm run bootstrap builds bpf/)', () => {
    expect(existsSync(TOA_BPF), `${TOA_BPF} is missing: run npm run bootstrap`).toBe(true);
  });

  it.each([
    [[], /Usage: toa-bpf realserver attach/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['attach'], /attach needs a trust decision: --trust CIDR .* or --trust-any/],
    [['attach', '--trust', '192.0.2.0/33'], /bad CIDR '192\.0\.2\.0\/33': prefix length must be 0 to 32/],
    [['attach', '--trust', '2001:db8::/129'], /prefix length must be 0 to 128/],
    [['attach', '--trust', 'lip.example'], /'lip\.example' is not an IPv4 or IPv6 address/],
    [['attach', '--trust', '192.0.2.1/'], /bad --trust '192\.0\.2\.1\/'/],
    [['attach', '--trust', '192.0.2.1', '--trust-any'], /--trust and --trust-any exclude each other/],
    [['attach', '--trust-any', '--accept', 'v5'], /unknown dialect 'v5'/],
    [['attach', '--trust-any', '--accept', 'v4,,bogus'], /unknown dialect 'bogus'/],
    [['attach', '--trust-any', '--accept', 'none,v4'], /--accept none excludes other dialects/],
    [['attach', '--trust-any', '--json'], /--json belongs to status/],
    [['attach', '--trust'], /option '--trust' needs a value/],
    [['attach', '--trust-any', 'extra'], /unexpected argument 'extra'/],
    [['status', '--trust', '192.0.2.1'], /--trust, --trust-any, --accept and --records-group belong to attach/],
    [['status', '--records-group', 'nogroup'], /--records-group belong to attach/],
    [['attach', '--trust-any', '--records-group', 'no-such-group-here'], /--records-group: no group 'no-such-group-here'/],
    [['detach', '--bogus'], /unknown option '--bogus'/],
  ])('%j -> exit 2: %s', (args, message) => {
    const r = rs(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message as RegExp);
  });

  it('--help lists the options and examples, exit 0', () => {
    const r = rs(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--trust CIDR/);
    expect(r.stdout).toMatch(/EXAMPLES:/);
  });
});

describe.skipIf(!isRoot)(`toa-bpf realserver: errors that need root${isRoot ? '' : ' (skipped: not root)'}`, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'toa-rs-cli-'));
  const mount = cgroup2();
  const cg = mount ? join(mount, `toa-rs-cli-${process.pid}`) : null;
  if (cg) mkdirSync(cg, { recursive: true });
  const pinDir = `/sys/fs/bpf/toa-rs-cli-${process.pid}`;

  afterAll(() => {
    rmSync(tmp, { recursive: true, force: true });
    if (cg && existsSync(cg)) rmdirSync(cg);
    rmSync(pinDir, { recursive: true, force: true });
  });

  it('as another user: says root is needed', () => {
    const setpriv = spawnSync('setpriv', ['--version']);
    expect(setpriv.status, 'setpriv (util-linux) is needed to drop privileges').toBe(0);
    const r = rs(['status'], {}, ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/must run as root/);
  });

  it('a --cgroup that is not a cgroup v2 directory', () => {
    const r = rs(['attach', '--cgroup', tmp, '--trust-any', '--pin-dir', pinDir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/is not a cgroup v2 directory/);
    expect(existsSync(pinDir)).toBe(false);
  });

  it('a --cgroup that does not exist', () => {
    const r = rs(['attach', '--cgroup', join(tmp, 'nope'), '--trust-any', '--pin-dir', pinDir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/No such file or directory/);
  });

  it.skipIf(!cg)('a pin directory that is not on bpffs', () => {
    const r = rs(['attach', '--cgroup', cg!, '--trust-any'], { TOA_PIN_DIR: join(tmp, 'pins') });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/is not on a bpf filesystem/);
  });

  it('a relative pin directory', () => {
    const r = rs(['attach', '--trust-any', '--pin-dir', 'toa-relative']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/pin directory 'toa-relative' must be an absolute path/);
    expect(existsSync(join(ROOT, 'toa-relative'))).toBe(false);
  });

  it('a pin directory below a pinned object (bpffs, but not a directory)', () => {
    const obj = `/sys/fs/bpf/toa-rs-cli-obj-${process.pid}`;
    const made = spawnSync('bpftool', ['map', 'create', obj, 'type', 'array', 'key', '4', 'value', '4', 'entries', '1', 'name', 'toa_cli_obj'], { encoding: 'utf8' });
    expect(made.status, made.stderr).toBe(0);
    try {
      const r = rs(['attach', '--cgroup', cg ?? tmp, '--trust-any', '--pin-dir', `${obj}/toa`]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`cannot create pin directory '${obj}/toa': Not a directory`));
    } finally {
      rmSync(obj, { force: true });
    }
  });

  // A private mount namespace whose cgroup2 (or bpffs) mounts are gone: the
  // real condition, seen only by the command run inside it.
  const withoutMounts = (type: string, argv: string[]) =>
    spawnSync(
      'unshare',
      ['-m', '--propagation', 'private', 'sh', '-c',
        `for m in $(awk '$3 == "${type}" { print $2 }' /proc/self/mounts | sort -r); do umount -l "$m" || exit 90; done; ` +
          `grep -q " ${type} " /proc/self/mounts && exit 91; exec "$@"`,
        'sh', TOA_BPF, 'realserver', ...argv],
      { encoding: 'utf8', timeout: 20_000 },
    );

  it('no cgroup v2 mounted at all: says so and how to mount one', () => {
    const r = withoutMounts('cgroup2', ['attach', '--trust-any', '--pin-dir', pinDir]);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/no cgroup v2 hierarchy is mounted .*mount -t cgroup2 none \/sys\/fs\/cgroup\) or pass --cgroup/);
    expect(existsSync(pinDir)).toBe(false);
  });

  it('no cgroup v2 mounted, and --cgroup names a plain directory', () => {
    const r = withoutMounts('cgroup2', ['attach', '--cgroup', tmp, '--trust-any', '--pin-dir', pinDir]);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/is not a cgroup v2 directory, and no cgroup2 is mounted/);
    expect(existsSync(pinDir)).toBe(false);
  });

  it('bpffs not mounted at /sys/fs/bpf in a mount namespace of its own: refused (a bpffs mounted there dies with it), one line', () => {
    for (const argv of [['status', '--json'], ['attach', '--cgroup', cg ?? tmp, '--trust-any']]) {
      const r = withoutMounts('bpf', [...argv, '--pin-dir', pinDir]);
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/is not on the host's bpffs: this command runs in a mount namespace of its own .*use nsenter --net/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(existsSync(pinDir)).toBe(false);
  });

  it('root without CAP_BPF and CAP_SYS_ADMIN: the kernel refuses BPF, and the message says why', () => {
    const r = rs(['attach', '--cgroup', cg ?? tmp, '--trust-any', '--pin-dir', pinDir], {}, ['setpriv', '--bounding-set=-all', '--inh-caps=-all']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the kernel refuses BPF to this process \(root without CAP_BPF and CAP_SYS_ADMIN/);
    expect(existsSync(pinDir)).toBe(false);
  });

  it('status and detach when nothing is attached: say so, exit 0', () => {
    const st = rs(['status', '--json', '--pin-dir', pinDir]);
    expect(st.code, st.stderr).toBe(0);
    expect(JSON.parse(st.stdout)).toEqual({ attached: false, pin_dir: pinDir });
    const d = rs(['detach', '--pin-dir', pinDir]);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toMatch(/not attached/);
  });
});
