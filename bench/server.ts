/**
 * The bench server processes: `bench/serve.ts` started in a child process of its own, so that
 * the load generator does not share its event loop.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface BenchServer {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/**
 * Server on CPU 0 and load generator (this process) on CPU 1, as the reference baselines were
 * measured, so that the two do not take turns on one core; unpinned where taskset is missing.
 */
export const PIN = existsSync('/usr/bin/taskset') && os.cpus().length >= 2;

export function pinThisProcessToCpu1(): void {
  if (PIN) execFileSync('taskset', ['-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
}

/** Starts `bench/serve.ts <args>` and resolves once it listens. */
export async function startServer(args: string[]): Promise<BenchServer> {
  const nodeArgs = ['--import', 'tsx', path.join('bench', 'serve.ts'), ...args];
  const child = PIN
    ? spawn('taskset', ['-c', '0', process.execPath, ...nodeArgs], { stdio: ['ignore', 'pipe', 'inherit'] })
    : spawn(process.execPath, nodeArgs, { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      const match = /listening (\d+)/.exec(chunk.toString());
      if (match) resolve(Number(match[1]));
    });
    child.on('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
  });
  return {
    port,
    pid: child.pid!,
    stop: () =>
      new Promise((resolve) => {
        child.on('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
