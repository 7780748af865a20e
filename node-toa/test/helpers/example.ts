/** Runs a file from examples/ as a user would (tsx), and waits for its "listening" line. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const REPO = join(__dirname, '../../..');
const TSX = join(REPO, 'node_modules/tsx/dist/cli.mjs');

export interface Running {
  child: ChildProcess;
  port: number;
  output(): string;
  stop(): Promise<void>;
}

/** argvPrefix runs it elsewhere (e.g. nsenter into a lab namespace). */
export async function startExample(name: string, env: NodeJS.ProcessEnv = {}, argvPrefix: string[] = []): Promise<Running> {
  const argv = [...argvPrefix, process.execPath, TSX, join(REPO, 'examples', `${name}.ts`)];
  const child = spawn(argv[0], argv.slice(1), {
    cwd: REPO,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d) => (out += d));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: no "listening" line in 30 s:\n${out}`)), 30_000);
    const check = () => {
      const m = /listening .*"port":(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', check);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}:\n${out}`));
    });
  });
  return {
    child,
    port,
    output: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
