// Boots a Debian kernel in qemu (TCG) with a generated busybox initramfs and
// the host's root shared read-only over 9p (with a tmpfs overlay on top), then
// runs a shell script chrooted into that root: the guest uses the host's own
// node, nft, ip, tcpdump and this repository, at the same paths. Results come
// back through a writable 9p share of a per-run folder, which the guest sees
// at the same path as the host.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { cpio, type CpioEntry } from './cpio.js';
import { cacheRoot, repoRoot, type Kernel } from './kernels.js';

/** Modules the guest needs before its init can mount the host, plus what the lab uses. Missing or built-in ones are skipped. */
export const GUEST_MODULES = [
  // libcrc32c (nf_conntrack, nf_tables) needs a crc32c driver first (a soft dependency modinfo does not name).
  'crc32c_generic',
  'virtio_pci', 'virtio_rng', '9pnet_virtio', '9p', 'overlay',
  'veth', 'nf_tables', 'nf_conntrack', 'nf_nat', 'nft_nat', 'nft_chain_nat', 'nft_ct',
  'sch_ingress', 'cls_bpf', 'act_bpf',
];

export interface GuestOptions {
  /** Shell script (bash) run in the chrooted host userland, cwd = the repository; $RESULTS is the writable results folder. */
  script: string;
  timeoutMs?: number;
  memoryMB?: number;
  cpus?: number;
  /**
   * The guest's clock counts instructions (qemu -icount shift=0: 1 ns per instruction executed;
   * idle time passes at the host's pace), so what the guest times no longer depends on the host's
   * speed: a bench's figures repeat to a fraction of a percent. One vCPU only: qemu 7.2 hangs
   * bringing up a second under icount ("Booting SMP configuration").
   */
  icount?: boolean;
  /** Modules loaded at boot besides GUEST_MODULES (with their dependencies), e.g. ip_vs. */
  extraModules?: string[];
  /** Live console lines (for debugging: TOA_VM_VERBOSE=1). */
  onConsole?: (line: string) => void;
}

export interface GuestRun {
  /** The script's exit status; null when the guest never reported one. */
  exitCode: number | null;
  timedOut: boolean;
  seconds: number;
  console: string;
  dmesg: string;
  /** Lines of the guest kernel's log that report a kernel bug. */
  kernelProblems: string[];
  /** Host path of the results folder (kept until the caller removes it). */
  resultsDir: string;
}

const PROBLEM = /(\bBUG:|\bWARNING:|\bOops\b|KASAN|refcount_t:|general protection fault|Kernel panic|kernel BUG|UBSAN:|Call Trace:|RCU stall|soft lockup|hung_task)/;

/** Lines of a kernel log that mean the kernel found a bug. */
export function kernelProblems(log: string): string[] {
  return log.split('\n').filter((l) => PROBLEM.test(l));
}

/** What a hung guest's failure shows: the kernel's first report (a soft lockup's stack, say), which a hang's tail, repeating one line, has lost; then the tail. */
export function hangReport(run: GuestRun, lines = 60): string {
  const all = run.console.split('\n');
  const at = all.findIndex((l) => PROBLEM.test(l));
  const first = at < 0 ? '(no kernel report)' : all.slice(at, at + lines).join('\n');
  return `guest hung; first kernel report:\n${first}\nconsole tail:\n${all.slice(-lines).join('\n')}`;
}

function norm(name: string): string {
  return name.replace(/-/g, '_');
}

/** name -> path of every module file of the kernel. */
function moduleFiles(kernel: Kernel): Map<string, string> {
  const map = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.ko(\.xz|\.zst)?$/.test(e.name)) map.set(norm(e.name.replace(/\.ko(\.xz|\.zst)?$/, '')), p);
    }
  };
  walk(join(kernel.modules, 'kernel'));
  return map;
}

function readModule(path: string): Buffer {
  if (path.endsWith('.xz')) return execFileSync('xz', ['-dc', path], { maxBuffer: 256 << 20 });
  if (path.endsWith('.zst')) return execFileSync('zstd', ['-dcq', path], { maxBuffer: 256 << 20 });
  return readFileSync(path);
}

/** The depends= entry of a module's .modinfo section. */
function depends(ko: Buffer): string[] {
  const at = ko.indexOf('\0depends=');
  if (at < 0) return [];
  const end = ko.indexOf(0, at + 1);
  return ko.subarray(at + 9, end).toString().split(',').filter(Boolean).map(norm);
}

/** Module files in load order (dependencies first), decompressed. */
function resolveModules(kernel: Kernel, wanted: string[]): { name: string; data: Buffer }[] {
  const files = moduleFiles(kernel);
  const out: { name: string; data: Buffer }[] = [];
  const seen = new Set<string>();
  const visit = (name: string): void => {
    name = norm(name);
    if (seen.has(name)) return;
    seen.add(name);
    const path = files.get(name);
    if (!path) return; // built in, or not in this kernel
    const data = readModule(path);
    for (const d of depends(data)) visit(d);
    out.push({ name, data });
  };
  for (const w of wanted) visit(w);
  return out;
}

function busyboxPath(): string {
  for (const p of ['/bin/busybox', '/usr/bin/busybox']) if (existsSync(p)) return p;
  throw new Error('busybox not found: install busybox-static');
}

const INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read m; do insmod /lib/modules/$m.ko || echo "TOA-VM: insmod $m failed"; done < /modules.list
. /run.env
fail() { echo "TOA-VM: $*"; echo "TOA-VM-DONE rc=99"; poweroff -f; }
mkdir -p /host /rw /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot /host || fail "cannot mount the host root over 9p"
mount -t tmpfs -o size=70% tmpfs /rw
mkdir -p /rw/upper /rw/work
if ! mount -t overlay overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work /newroot; then
  echo "TOA-VM: overlay failed; the guest root is read-only"
  mount --bind /host /newroot
fi
R=/newroot
mount -t proc proc $R/proc
mount -t sysfs sysfs $R/sys
mount -t devtmpfs devtmpfs $R/dev
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts devpts $R/dev/pts
mount -t tmpfs tmpfs $R/dev/shm
# A checkout under /tmp or /run (CI's clones may be) must stay visible under the fresh tmpfs.
case "$REPO" in /tmp/*|/run/*) mkdir -p /repo && mount --bind "$R$REPO" /repo || fail "cannot keep $REPO";; esac
mount -t tmpfs tmpfs $R/tmp
mount -t tmpfs tmpfs $R/run
case "$REPO" in /tmp/*|/run/*) mkdir -p "$R$REPO" && mount --bind /repo "$R$REPO" || fail "cannot keep $REPO";; esac
mount -t bpf bpf $R/sys/fs/bpf
mount -t cgroup2 cgroup2 $R/sys/fs/cgroup
mount -t debugfs debugfs $R/sys/kernel/debug 2>/dev/null
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 results $R$RESULTS || fail "cannot mount the results share"
hostname toa-vm
ip link set lo up
echo "TOA-VM: running $(uname -r)"
chroot $R /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
  REPO="$REPO" RESULTS="$RESULTS" TOA_VM=1 TOA_VM_KERNEL="$(uname -r)" \\
  /bin/bash -c 'cd "$REPO" && bash "$RESULTS/guest.sh" > "$RESULTS/guest.log" 2>&1; echo $? > "$RESULTS/rc"'
rc=$(cat $R$RESULTS/rc 2>/dev/null || echo 98)
dmesg > $R$RESULTS/dmesg.txt
sync
umount $R$RESULTS
echo "TOA-VM-DONE rc=$rc"
poweroff -f
`;

function initramfs(kernel: Kernel, env: Record<string, string>, extraModules: string[] = []): Buffer {
  const mods = resolveModules(kernel, [...GUEST_MODULES, ...extraModules]);
  const entries: CpioEntry[] = [
    ...['bin', 'dev', 'proc', 'sys', 'lib', 'lib/modules', 'run', 'tmp'].map((name) => ({ name })),
    { name: 'bin/busybox', data: readFileSync(busyboxPath()), mode: 0o755 },
    { name: 'init', data: Buffer.from(INIT), mode: 0o755 },
    { name: 'modules.list', data: Buffer.from(mods.map((m) => m.name).join('\n') + '\n') },
    { name: 'run.env', data: Buffer.from(Object.entries(env).map(([k, v]) => `${k}='${v}'\n`).join('')) },
    ...mods.map((m) => ({ name: `lib/modules/${m.name}.ko`, data: m.data })),
  ];
  return cpio(entries);
}

/** Removes run folders whose process is gone (kept failures of earlier runs), so the cache does not grow. */
function sweepRuns(): void {
  const runs = join(cacheRoot, 'runs');
  if (!existsSync(runs)) return;
  for (const d of readdirSync(runs)) {
    const pid = Number(/-(\d+)-[a-z0-9]+$/.exec(d)?.[1]);
    if (!pid || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') rmSync(join(runs, d), { recursive: true, force: true });
    }
  }
}

/** qemu's command line for a guest run; throws for a combination qemu cannot run. */
export function qemuArgs(kernel: Pick<Kernel, 'vmlinuz'>, initrd: string, resultsDir: string, opts: Omit<GuestOptions, 'script'>): string[] {
  const cpus = opts.cpus ?? 2;
  if (opts.icount && cpus !== 1) throw new Error('runGuest: icount needs cpus: 1 (qemu 7.2 hangs bringing up a second vCPU under it)');
  // One host thread for all vCPUs: qemu 7.2's multi-threaded TCG runs stale code after the kernel patches
  // its text under load. Toggling the stock function tracer on inet_getname while six threads call
  // getpeername() oopsed a 6.12 guest (int3 at inet_getname+5) within a second, with no module loaded;
  // single-threaded, 140 toggles over 240 s were clean. The guest stays SMP (2 vCPUs, interleaved),
  // but for the bench's instruction clock (one vCPU).
  const accel = process.env.TOA_VM_ACCEL ?? 'tcg,thread=single';
  // TOA_VM_APPEND: more kernel parameters (e.g. nokaslr, for benches that compare boots).
  // loglevel=5: a soft lockup's registers and stack come at the default level (4), which 4 would hide.
  return [
    '-accel', accel, '-cpu', process.env.TOA_VM_CPU ?? 'max',
    '-m', String(opts.memoryMB ?? 2048), '-smp', String(cpus),
    '-kernel', kernel.vmlinuz, '-initrd', initrd,
    '-append', `console=ttyS0 rdinit=/init panic=-1 quiet loglevel=5 random.trust_cpu=on ${process.env.TOA_VM_APPEND ?? ''}`.trim(),
    '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot', '-nic', 'none',
    '-device', 'virtio-rng-pci',
    // sleep stays on: an idle guest's time passes at the host's pace, so waits on the host's 9p
    // replies do not jump the guest's timers (its 180 s timeouts) forward.
    ...(opts.icount ? ['-icount', 'shift=0'] : []),
    '-virtfs', 'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
    '-virtfs', `local,path=${resultsDir},mount_tag=results,security_model=none`,
  ];
}

/** Boots the kernel, runs the script, powers off; never throws for a guest failure (see the result). */
export async function runGuest(kernel: Kernel, opts: GuestOptions): Promise<GuestRun> {
  const runDir = join(cacheRoot, 'runs', `${kernel.release}-${process.pid}-${Date.now().toString(36)}`);
  const resultsDir = join(runDir, 'results');
  const initrd = join(runDir, 'initrd.cpio');
  // First: it refuses what qemu cannot run, before anything is written.
  const args = qemuArgs(kernel, initrd, resultsDir, opts);
  sweepRuns();
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, 'guest.sh'), opts.script);
  writeFileSync(initrd, initramfs(kernel, { REPO: repoRoot, RESULTS: resultsDir }, opts.extraModules));

  const started = Date.now();
  const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let consoleLog = '';
  let partial = '';
  const onData = (d: Buffer): void => {
    const s = d.toString();
    consoleLog += s;
    if (opts.onConsole) {
      partial += s;
      const lines = partial.split('\n');
      partial = lines.pop()!;
      for (const l of lines) opts.onConsole(l.replace(/\r$/, ''));
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, opts.timeoutMs ?? 600_000);
  await new Promise<void>((resolve) => {
    child.on('close', () => resolve());
    child.on('error', (e) => {
      consoleLog += `\nqemu: ${e.message}\n`;
      resolve();
    });
  });
  clearTimeout(timer);
  const rcMatch = /TOA-VM-DONE rc=(\d+)/.exec(consoleLog);
  const dmesgPath = join(resultsDir, 'dmesg.txt');
  const dmesg = existsSync(dmesgPath) ? readFileSync(dmesgPath, 'utf8') : '';
  return {
    exitCode: rcMatch ? Number(rcMatch[1]) : null,
    timedOut,
    seconds: (Date.now() - started) / 1000,
    console: consoleLog,
    dmesg,
    // A hung or crashed guest leaves no dmesg file: its console has the kernel's messages.
    kernelProblems: kernelProblems(dmesg || consoleLog),
    resultsDir,
  };
}

/**
 * A bench's JSON result from the guest's results folder; throws with the tail of the guest's
 * log (or its console) when the script failed or wrote nothing. what names the run in the error.
 */
export function guestJson(run: GuestRun, name: string, what: string): any {
  const file = join(run.resultsDir, name);
  if (run.exitCode !== 0 || !existsSync(file)) {
    const log = existsSync(join(run.resultsDir, 'guest.log')) ? readFileSync(join(run.resultsDir, 'guest.log'), 'utf8') : run.console;
    throw new Error(`${what} failed (exit ${run.exitCode}, timed out: ${run.timedOut}):\n${log.slice(-4000)}`);
  }
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** The guest's console on stderr as it comes, when TOA_VM_VERBOSE is set (GuestOptions.onConsole). */
export function verboseConsole(): Pick<GuestOptions, 'onConsole'> {
  return process.env.TOA_VM_VERBOSE ? { onConsole: (l: string) => process.stderr.write(`${l}\n`) } : {};
}

/** Removes a run's folder (results and initramfs, ~20 MB): after a run that passed. */
export function removeRun(run: GuestRun): void {
  rmSync(join(run.resultsDir, '..'), { recursive: true, force: true });
}

/** Why VM tests cannot run here, or null. */
export function vmUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'VM tests need root (apt-get download, qemu 9p export of /)';
  for (const bin of ['/usr/bin/qemu-system-x86_64']) if (!existsSync(bin)) return `${bin} missing (install qemu-system-x86)`;
  try {
    busyboxPath();
  } catch (e) {
    return (e as Error).message;
  }
  return null;
}
