/**
 * Holds every fdatasync made through a FileHandle until the test releases it, and notes when
 * each one has really completed, so that a test sees what waits for a sync to COMPLETE (not
 * merely to be called): `await handle.datasync()` and `void handle.datasync()` make the same
 * calls, only the order of completions and answers tells them apart.
 *
 * The real fdatasync still runs once released: the file system is untouched.
 */
import { open } from 'node:fs/promises';
import os from 'node:os';
import sinon from 'sinon';

interface FileHandleMethods {
  datasync(): Promise<void>;
  read(...args: unknown[]): Promise<{ bytesRead: number }>;
}

/** The prototype all FileHandles share (node:fs/promises does not export the class). */
export async function fileHandlePrototype(): Promise<FileHandleMethods> {
  const probe = await open(os.devNull, 'r');
  try {
    return Object.getPrototypeOf(probe) as FileHandleMethods;
  } finally {
    await probe.close();
  }
}

export interface HeldDatasync {
  /** 1 for the first fdatasync since the gate was installed. */
  readonly number: number;
  /** Lets the real fdatasync run. */
  release(): void;
  /** Settles when the real fdatasync has completed. */
  readonly completed: Promise<void>;
}

export interface DatasyncGate {
  /** Every fdatasync so far, in call order. */
  readonly calls: readonly HeldDatasync[];
  /** What happened, in order: `sync N completed` from the gate, and whatever the test notes. */
  readonly timeline: string[];
  note(event: string): void;
  /** Resolves with the `number`-th fdatasync once it has been called. */
  call(number: number): Promise<HeldDatasync>;
  /** Puts the real datasync back. */
  restore(): void;
}

export async function holdDatasyncs(): Promise<DatasyncGate> {
  const prototype = await fileHandlePrototype();
  const original = prototype.datasync;
  const calls: HeldDatasync[] = [];
  const timeline: string[] = [];
  const waiting = new Set<() => void>();
  const stub = sinon.stub(prototype, 'datasync').callsFake(function (this: FileHandleMethods) {
    const number = calls.length + 1;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const completed = released
      .then(() => original.call(this))
      .then(() => {
        timeline.push(`sync ${number} completed`);
      });
    calls.push({ number, release, completed });
    for (const wake of waiting) wake();
    return completed;
  });
  return {
    calls,
    timeline,
    note: (event) => timeline.push(event),
    call: (number) =>
      new Promise((resolve) => {
        const check = () => {
          if (calls.length < number) return;
          waiting.delete(check);
          resolve(calls[number - 1]);
        };
        waiting.add(check);
        check();
      }),
    restore: () => {
      // Whatever is still held runs now, so no append is left waiting after the test.
      for (const held of calls) held.release();
      stub.restore();
    },
  };
}
