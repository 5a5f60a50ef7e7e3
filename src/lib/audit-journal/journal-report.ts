/** The one log line that says what the journal found when it opened. */
import type { Logger } from '../logger.js';
import type { TailCut } from './recovery.js';

interface OpenedJournal {
  segments: number;
  bytes: number;
  oldestSeq: number | null;
  lastSeq: number;
}

export function logJournalOpened(
  settings: { directory: string; logger: Logger },
  cut: TailCut | null,
  { segments, bytes, oldestSeq, lastSeq }: OpenedJournal,
  checkpoints: Record<string, number>,
): void {
  const entries = oldestSeq === null ? 0 : Math.max(0, lastSeq - oldestSeq + 1);
  const message =
    `journal ${settings.directory}: ${segments} segment(s), ${entries} entries` +
    `${entries > 0 ? ` (#${oldestSeq}..#${lastSeq})` : ''}, ${bytes} bytes; ` +
    `checkpoints ${describeCheckpoints(checkpoints)}; ${describeCut(cut)}`;
  if (cut) settings.logger.warn(message);
  else settings.logger.info(message);
}

function describeCheckpoints(checkpoints: Record<string, number>): string {
  const described = Object.entries(checkpoints).map(([id, seq]) => `${id}=#${seq}`);
  return described.join(' ') || 'none';
}

function describeCut(cut: TailCut | null): string {
  if (!cut) return 'no damaged tail';
  return `cut ${cut.bytes} byte(s) of torn or damaged tail from ${cut.file} at byte ${cut.offset} (${cut.reason})`;
}
