/**
 * scripts/build-debs.sh: the toa-bpf and toa-dkms packages build, lintian
 * passes them (each remaining tag overridden with its reason, in
 * deploy/debian/*.lintian-overrides), they hold what they promise, and
 * toa-bpf installed on this host attaches the writer in the lab and leaves
 * nothing behind when purged.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADDR, createLab, labUnavailable, REPO_ROOT, type Lab } from '../lab/index.js';

const lintian = spawnSync('lintian', ['--version']).status === 0;
const installed = spawnSync('dpkg-query', ['-W', '-f', '${Status}', 'toa-bpf'], { encoding: 'utf8' }).stdout.includes('installed');
const why = labUnavailable() ?? (lintian ? null : 'no lintian (apt-get install lintian)');

const sh = (argv: string[]) => spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 300_000 });

describe.skipIf(why)(`Debian packages${why ? ` (skipped: ${why})` : ''}`, () => {
  let out: string;
  let debs: { bpf: string; dkms: string };
  const contents = (deb: string): string[] => sh(['sh', '-c', `dpkg-deb --fsys-tarfile '${deb}' | tar -t`]).stdout.split('\n');

  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), 'toa-debs-'));
    const r = sh([join(REPO_ROOT, 'scripts/build-debs.sh'), out]);
    expect(r.status, r.stderr).toBe(0);
    const [bpf, dkms] = r.stdout.trim().split('\n');
    debs = { bpf, dkms };
  }, 300_000);

  afterAll(() => {
    if (out) rmSync(out, { recursive: true, force: true });
  });

  it('lintian: no error, warning or info left (overridden tags carry their reason)', () => {
    const r = sh(['lintian', '--fail-on', 'error,warning,info', '-I', debs.bpf, debs.dkms]);
    expect(r.stdout).toBe('');
    expect(r.status).toBe(0);
  });

  it('toa-bpf holds the binary, both units, example configurations and a man page per subcommand', () => {
    const files = contents(debs.bpf);
    for (const f of [
      './usr/sbin/toa-bpf',
      './lib/systemd/system/toa-director.service',
      './lib/systemd/system/toa-realserver.service',
      './usr/share/doc/toa-bpf/examples/director.conf',
      './usr/share/doc/toa-bpf/examples/realserver.conf',
      ...['toa-bpf', 'toa-bpf-director', 'toa-bpf-realserver', 'toa-bpf-doctor', 'toa-bpf-module'].map((m) => `./usr/share/man/man8/${m}.8.gz`),
    ]) {
      expect(files, f).toContain(f);
    }
    // No live configuration: the units start only once /etc/toa/ROLE.conf is written.
    expect(files.filter((f) => f.startsWith('./etc/'))).toEqual([]);
  });

  it('toa-dkms holds the module source, include/toa/ and dkms.conf', () => {
    const files = contents(debs.dkms);
    const src = files.find((f) => /^\.\/usr\/src\/toa-[0-9.]+\/dkms\.conf$/.test(f))!.replace('dkms.conf', '');
    for (const f of ['Kbuild', 'Makefile', 'toa_main.c', 'toa_hooks.c', 'toa.h', 'include/toa/toa_wire.h', 'include/toa/toa_record.h']) {
      expect(files, f).toContain(`${src}${f}`);
    }
  });

  describe.skipIf(installed)(`toa-bpf installed on this host${installed ? ' (skipped: a toa-bpf package is already installed here)' : ''}`, () => {
    let lab: Lab;
    beforeAll(async () => {
      const r = sh(['dpkg', '-i', debs.bpf]);
      expect(r.status, r.stderr).toBe(0);
      lab = await createLab();
    });
    afterAll(async () => {
      await lab?.destroy();
      sh(['dpkg', '--purge', 'toa-bpf']);
    });

    it('its man page and --help agree; it attaches the writer in the lab; purge removes every file', async () => {
      expect(sh(['sh', '-c', 'zcat /usr/share/man/man8/toa-bpf-doctor.8.gz | grep -c "toa-bpf doctor --vip"']).stdout.trim()).not.toBe('0');
      const a = await lab.exec('director', ['/usr/sbin/toa-bpf', 'director', 'attach', '--dev', 'cli0', '--vip', `${ADDR.vip4}:80`]);
      expect(a.code, a.stderr).toBe(0);
      const st = JSON.parse((await lab.exec('director', ['/usr/sbin/toa-bpf', 'director', 'status', '--json'])).stdout);
      expect(st.filters).toEqual({ ingress: true, egress: true });
      expect((await lab.exec('director', ['/usr/sbin/toa-bpf', 'director', 'detach'])).code).toBe(0);
      const files = sh(['dpkg', '-L', 'toa-bpf']).stdout.split('\n').filter((f) => f && statSync(f).isFile());
      expect(files).toContain('/usr/sbin/toa-bpf');
      expect(sh(['dpkg', '--purge', 'toa-bpf']).status).toBe(0);
      for (const f of files) expect(existsSync(f), f).toBe(false);
    });
  });
});
