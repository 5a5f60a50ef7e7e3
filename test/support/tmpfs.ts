/**
 * A real full disk for tests: a small tmpfs mounted on a fresh directory, so that writes into
 * it fail with the kernel's own ENOSPC, and room that can be given back later (remount with a
 * larger size). Mounting needs root, as on the development machines and in CI.
 *
 * Every mount is tracked and unmounted when the test process exits, even after a failed test.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Tmpfs {
  /** The mount point: a directory whose file system holds `sizeBytes` at most. */
  readonly directory: string;
  /** Gives the file system this many bytes (more room, or less). */
  resize(sizeBytes: number): void;
  /** Fills what is left with a file named `filler`, so the next write fails with ENOSPC. */
  fill(): void;
  /** Unmounts and removes the mount point. */
  unmount(): void;
}

const mounted = new Set<string>();
process.on('exit', () => {
  for (const directory of mounted) {
    try {
      execFileSync('umount', ['-l', directory], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
});

function run(command: string, args: string[]): void {
  try {
    execFileSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    const hint = process.getuid?.() === 0 ? '' : ' (mounting a tmpfs needs root: run the tests as root)';
    throw new Error(`${command} ${args.join(' ')} failed: ${stderr || (error as Error).message}${hint}`, {
      cause: error,
    });
  }
}

/** Mounts a tmpfs of `sizeBytes` (rounded up by the kernel to whole pages) on a new directory. */
export function mountTmpfs(sizeBytes: number, prefix = 'audit-tmpfs'): Tmpfs {
  const directory = mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  // mode=0700 like a private directory; the module creates what it needs inside.
  run('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0700`, 'tmpfs', directory]);
  mounted.add(directory);
  return {
    directory,
    resize(size) {
      run('mount', ['-o', `remount,size=${size}`, directory]);
    },
    fill() {
      // dd stops with "No space left on device" (exit 1) once the file system is full.
      try {
        execFileSync('dd', ['if=/dev/zero', `of=${path.join(directory, 'filler')}`, 'bs=4k'], {
          stdio: 'ignore',
        });
      } catch {
        // expected: ENOSPC
      }
    },
    unmount() {
      if (!mounted.delete(directory)) return;
      run('umount', [directory]);
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
