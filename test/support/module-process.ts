/**
 * Runs the module as a real child process, the compiled JavaScript a user runs
 * (`node dist/butler-sos.js -c file`; `npm test` builds it first), and reads its log lines to
 * learn the port it listens on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dump } from 'js-yaml';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The program as `npm run build` compiles it. */
export const PROGRAM = path.join(REPO_ROOT, 'dist', 'butler-sos.js');

export interface ModuleProcess {
  child: ChildProcess;
  baseUrl: string;
  /** Every stdout and stderr line so far. */
  output: string[];
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
  /** Waits until a log line contains `text`. */
  waitForOutput(text: string): Promise<string>;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
}

/** Writes `Butler-SOS.auditEvents` as YAML into `dir` and returns the file's path. */
export function writeConfigFile(dir: string, auditEvents: unknown, name = 'audit.yaml'): string {
  const file = path.join(dir, name);
  writeFileSync(file, dump({ 'Butler-SOS': { auditEvents } }));
  return file;
}

/** Children still running when the test process exits are killed: a failed test leaves none behind. */
const runningChildren = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of runningChildren) child.kill('SIGKILL');
});

/**
 * Kills every child still running and resolves once each has exited: for afterEach, since a
 * live child's pipes keep mocha running after a failed test, so the 'exit' above never comes.
 */
export async function killRunningModules(): Promise<void> {
  const running = [...runningChildren].filter(
    (child) => child.pid !== undefined && child.exitCode === null && child.signalCode === null,
  );
  await Promise.all(
    running.map(
      (child) =>
        new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}

export interface SpawnOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** An executable to run instead of `node dist/butler-sos.js` (an installed package's bin). */
  program?: string;
}

export function spawnModule(args: string[], options: SpawnOptions = {}): Omit<ModuleProcess, 'baseUrl'> {
  if (!options.program && !existsSync(PROGRAM)) throw new Error(`${PROGRAM} is missing: run npm run build`);
  const [command, commandArgs] = options.program
    ? [options.program, args]
    : [process.execPath, [PROGRAM, ...args]];
  const child = spawn(command, commandArgs, {
    cwd: options.cwd ?? REPO_ROOT,
    env: { ...process.env, NODE_OPTIONS: '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  runningChildren.add(child);
  child.on('exit', () => runningChildren.delete(child));
  const output: string[] = [];
  const listeners = new Set<() => void>();
  const collect = (chunk: Buffer) => {
    output.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    for (const listener of listeners) listener();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => {
      for (const listener of listeners) listener();
      resolve(code ?? signal ?? -1);
    });
  });
  const waitForOutput = (text: string) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const line = output.find((candidate) => candidate.includes(text));
        if (line) {
          listeners.delete(check);
          resolve(line);
        } else if (child.exitCode !== null) {
          listeners.delete(check);
          reject(
            new Error(`process exited (${child.exitCode}) before printing '${text}':\n${output.join('\n')}`),
          );
        }
      };
      listeners.add(check);
      check();
    });
  return { child, output, exited, waitForOutput };
}

/** Starts the module from a config file and resolves once it listens. */
export async function startModule(
  configFile: string,
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<ModuleProcess> {
  const started = spawnModule(['--configfile', configFile], options);
  const line = await started.waitForOutput('audit API listening on');
  const match = /listening on (https?):\/\/([^:]+):(\d+)/.exec(line);
  if (!match) throw new Error(`cannot read the address from: ${line}`);
  return { ...started, baseUrl: `${match[1]}://${match[2]}:${match[3]}` };
}

/** Sends a signal and waits for the exit code. */
export async function stopModule(
  module: ModuleProcess,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<number | string> {
  module.child.kill(signal);
  return module.exited;
}

/** Resident memory of a running process, in MiB (Linux /proc). */
export function rssMegabytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('VmRSS:'));
  return Number(line?.split(/\s+/)[1] ?? 0) / 1024;
}
