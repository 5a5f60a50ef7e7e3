/**
 * Warnings that would otherwise repeat on every request (a browser posting with a wrong token,
 * a Qlik Sense site missing from the allowed origins): at most one per interval for each kind
 * and origin, and none lost: what happens in between is counted and reported, with its count,
 * when the interval ends. The administrator reads one line a minute, not one per event.
 */
import type { Logger } from '../logger.js';

/** Keeps memory bounded when clients send many different origins: the rest share one key. */
const MAX_TRACKED_KEYS = 1000;
const OTHER_ORIGINS = '(other origins)';
/** Origins are client text: a key holds no more of one than any real origin needs. */
const MAX_ORIGIN_LENGTH = 256;

export interface ThrottledWarnings {
  /** Warns at once unless this kind and origin warned within the interval; then counts it. */
  warn(kind: string, origin: string, message: string): void;
  /** Reports every count still pending and stops the timers (the server is closing). */
  close(): void;
}

interface Tracked {
  /** The latest message of this kind and origin, reported with the count. */
  message: string;
  /** How many arrived since the last warning, not yet reported. */
  pending: number;
  /** When the last warning went out. */
  warnedAt: number;
  timer: NodeJS.Timeout;
}

export function createThrottledWarnings(logger: Logger, intervalMs = 60_000): ThrottledWarnings {
  const tracked = new Map<string, Tracked>();
  const seconds = Math.round(intervalMs / 1000);

  const countedSince = (entry: Tracked) =>
    `${entry.message} (${entry.pending} more time${entry.pending === 1 ? '' : 's'} since ${new Date(entry.warnedAt).toISOString()})`;

  /** At the end of an interval: report what it counted and start another, or forget the key. */
  function endInterval(key: string): void {
    const entry = tracked.get(key);
    if (!entry) return;
    if (entry.pending === 0) {
      tracked.delete(key);
      return;
    }
    logger.warn(countedSince(entry));
    entry.pending = 0;
    entry.warnedAt = Date.now();
    entry.timer = startTimer(key);
  }

  function startTimer(key: string): NodeJS.Timeout {
    // unref: a pending count never keeps the process alive; close() reports it.
    return setTimeout(() => endInterval(key), intervalMs).unref();
  }

  function keyFor(kind: string, origin: string): string {
    const key = `${kind}\n${origin.slice(0, MAX_ORIGIN_LENGTH)}`;
    return tracked.has(key) || tracked.size < MAX_TRACKED_KEYS ? key : `${kind}\n${OTHER_ORIGINS}`;
  }

  return {
    warn(kind, origin, text) {
      const key = keyFor(kind, origin);
      const message = key === `${kind}\n${OTHER_ORIGINS}` ? `${text} [counted with other origins]` : text;
      const entry = tracked.get(key);
      if (entry) {
        entry.message = message;
        entry.pending += 1;
        return;
      }
      logger.warn(`${message} (repeats are counted: at most one warning every ${seconds} s)`);
      tracked.set(key, { message, pending: 0, warnedAt: Date.now(), timer: startTimer(key) });
    },
    close() {
      for (const entry of tracked.values()) {
        clearTimeout(entry.timer);
        if (entry.pending > 0) logger.warn(countedSince(entry));
      }
      tracked.clear();
    },
  };
}
