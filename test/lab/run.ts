/** Running commands inside the lab's network namespaces. */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * argv prefix that enters a named network namespace. nsenter, not `ip netns
 * exec`: the latter remounts /sys, which hides bpffs and the cgroup2 mount.
 */
export function inNetns(ns: string | null, argv: string[]): string[] {
  return ns ? ['nsenter', `--net=/run/netns/${ns}`, '--', ...argv] : argv;
}

/** Runs argv to completion; never throws for a non-zero exit (check .code). */
export function run(argv: string[], opts: SpawnOptions & { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { ...opts, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          stderr += `\n[killed after ${opts.timeoutMs} ms]`;
          child.kill('SIGKILL');
        }, opts.timeoutMs)
      : undefined;
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    // A child that exits without reading its input must not raise EPIPE in the caller.
    child.stdin!.on('error', () => {});
    child.stdin!.end(opts.input ?? '');
  });
}

/** Runs argv and throws with its output when it fails. */
export async function runOk(argv: string[], opts: SpawnOptions & { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const r = await run(argv, opts);
  if (r.code !== 0) {
    throw new Error(`${argv.join(' ')} exited with ${r.code}\n${r.stderr.trim()}\n${r.stdout.trim()}`.trim());
  }
  return r.stdout;
}

/** A long-running process (a server, tcpdump) whose output can be waited on. */
export class Proc {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  private exited: Promise<number>;

  constructor(argv: string[], opts: SpawnOptions = {}) {
    this.child = spawn(argv[0], argv.slice(1), { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
      this.child.on('error', () => resolve(127));
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves when stdout or stderr matches; rejects if the process exits first or time runs out. */
  waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const m = this.stdout.match(pattern) ?? this.stderr.match(pattern);
        if (m) {
          done();
          resolve(m);
        }
        return !!m;
      };
      const onExit = (): void => {
        if (check()) return;
        done();
        reject(new Error(`process exited before printing ${pattern}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`));
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${pattern}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.child.stdout!.off('data', check);
        this.child.stderr!.off('data', check);
        this.child.off('close', onExit);
      };
      if (check()) return;
      this.child.stdout!.on('data', check);
      this.child.stderr!.on('data', check);
      this.child.on('close', onExit);
    });
  }

  /** Sends the signal and waits for the exit code (SIGKILL after graceMs). */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 3_000): Promise<number> {
    if (this.running) {
      this.child.kill(signal);
      const t = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      const code = await this.exited;
      clearTimeout(t);
      return code;
    }
    return this.exited;
  }

  wait(): Promise<number> {
    return this.exited;
  }
}
