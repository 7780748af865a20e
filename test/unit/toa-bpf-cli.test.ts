/**
 * toa-bpf director's command line: bad input is a usage error (exit 2, one
 * line saying what is wrong), a missing device or bpffs or root a plain
 * failure (exit 1), and nothing is attached on the way. Runs the built
 * binary (bpf/build/toa-bpf, made by the bootstrap).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const TOA_BPF = join(dirname(fileURLToPath(import.meta.url)), '../../bpf/build/toa-bpf');
const built = existsSync(TOA_BPF);
const root = process.getuid?.() === 0;
// Never a pin directory anyone uses: status and failed attaches must leave it absent.
const PIN = `/sys/fs/bpf/toa-cli-test-${process.pid}`;

function toaBpf(args: string[], opts: { prefix?: string[] } = {}) {
  const argv = [...(opts.prefix ?? []), TOA_BPF, ...args];
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', env: { ...process.env, TOA_PIN_DIR: PIN } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(!built)(`toa-bpf director CLI${built ? '' : ' (skipped: bpf/build/toa-bpf not built; run make -C bpf)'}`, () => {
  it.each([
    [[], /Usage: toa-bpf director attach/],
    [['frob'], /unknown command 'frob'/],
    [['attach'], /attach needs --dev IFACE/],
    [['attach', '--dev', 'lo'], /attach needs at least one --vip/],
    [['attach', '--dev', 'lo', '--vip', '198.51.100.100'], /bad endpoint '198\.51\.100\.100': expected ADDR:PORT/],
    [['attach', '--dev', 'lo', '--vip', '198.51.100.300:80'], /'198\.51\.100\.300' is not an IPv4 address/],
    [['attach', '--dev', 'lo', '--vip', '2001:db8::1:80'], /IPv6 endpoint is written \[ADDR\]:PORT/],
    [['attach', '--dev', 'lo', '--vip', '[198.51.100.1]:80'], /is not an IPv6 address/],
    [['attach', '--dev', 'lo', '--vip', '198.51.100.100:0'], /port must be a number from 1 to 65535/],
    [['attach', '--dev', 'lo', '--vip', '198.51.100.100:65536'], /port must be a number from 1 to 65535/],
    [['attach', '--dev', 'lo', '--vip', '198.51.100.100:80x'], /port must be a number/],
    [['attach', '--dev', 'lo', '--vip', '198.51.100.100:80', '--dialect', 'v9'], /unknown dialect 'v9'/],
    [['attach', '--dev', 'lo', '--vip', '198.51.100.100:80', '--dialect', 'v4', '--dialect', 'v4-200'], /--dialect given twice for IPv4/],
    [['attach', '--dev', 'lo', '--vip', '198.51.100.100:80', '--flows', '10'], /--flows must be a number from 1024/],
    [['attach', '--dev', 'lo', '--vip', '198.51.100.100:80', '--flows', '-5'], /--flows must be a number/],
    [['attach', '--dev', 'lo', '--vip', '198.51.100.100:80', '--flows', '99999999999'], /--flows must be a number/],
    [['attach', '--dev', 'lo', '--vip', '198.51.100.100:80', '--strip', '2'], /--strip takes an option kind from 3 to 255/],
    [['attach', '--dev', 'lo', '--vip', '198.51.100.100:80', '--bogus'], /unknown option '--bogus'/],
    [['attach', '--dev', 'lo', '--vip', '198.51.100.100:80', '--hook', 'xdp'], /unknown --hook 'xdp' \(tcx, tc, auto\)/],
    [['detach', '--hook', 'tc'], /--hook and --rs-dev belong to attach/],
    [['detach', '--rs-dev', 'eth1'], /--rs-dev belong to attach/],
    [['attach', '--dev', 'lo', '--rs-dev', 'lo', '--vip', '198.51.100.100:80'], /--rs-dev must be another interface than --dev/],
    [['attach', '--dev', 'lo', '--rs-dev', 'x'.repeat(20), '--vip', '198.51.100.100:80'], /bad interface name/],
    [['attach', '--dev', 'lo', '--vip'], /option '--vip' needs a value/],
    [['attach', '--dev', 'lo', '--vip', '198.51.100.100:80', 'extra'], /unexpected argument 'extra'/],
    [['attach', '--dev', 'x'.repeat(20), '--vip', '198.51.100.100:80'], /bad interface name/],
    [['status', '--vip', '198.51.100.100:80'], /--vip, --dialect, --flows, --hook and --rs-dev belong to attach/],
    [['detach', '--json'], /--json belongs to status/],
  ])('usage error: director %j', (args, message) => {
    const r = toaBpf(['director', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
    expect(existsSync(PIN)).toBe(false);
  });

  it('--help prints the options and an EXAMPLES block, exit 0', () => {
    const r = toaBpf(['director', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--vip ADDR:PORT/);
    expect(r.stdout).toMatch(/EXAMPLES:\n {2}toa-bpf director attach --dev/);
  });

  it('an unknown role is a usage error', () => {
    const r = toaBpf(['balancer']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown role 'balancer'/);
  });

  it.skipIf(!root)('a missing device: what failed and why, exit 1, nothing pinned', () => {
    const r = toaBpf(['director', 'attach', '--dev', 'nosuchdev0', '--vip', '198.51.100.100:80'], { prefix: ['unshare', '--net', '--'] });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no interface 'nosuchdev0' in this network namespace: No such device/);
    expect(existsSync(PIN)).toBe(false);
  });

  it.skipIf(!root)('a pin directory off bpffs is refused before anything is attached', () => {
    const dir = mkdtempSync(join(tmpdir(), 'toa-cli-'));
    try {
      // A fresh network namespace: even a wrongly successful attach could not touch the host's lo.
      const r = toaBpf(['director', 'attach', '--dev', 'lo', '--vip', '198.51.100.100:80', '--pin-dir', dir], {
        prefix: ['unshare', '--net', '--'],
      });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/is not on a bpf filesystem/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!root)('not root: a clear refusal, exit 1', () => {
    const r = toaBpf(['director', 'status'], { prefix: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'] });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/status needs root .*Operation not permitted/);
  });

  it.skipIf(!root)('status and detach with nothing attached: success, and nothing created', () => {
    const st = toaBpf(['director', 'status', '--json']);
    expect(st.code).toBe(0);
    expect(JSON.parse(st.stdout)).toEqual({ attached: false, pin_dir: PIN });
    const text = toaBpf(['director', 'status']);
    expect(text.stdout).toMatch(/director: not attached/);
    expect(toaBpf(['director', 'detach']).code).toBe(0);
    expect(existsSync(PIN)).toBe(false);
  });
});
