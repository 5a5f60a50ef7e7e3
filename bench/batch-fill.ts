/**
 * Batch fill under sustained load: the journal fed at a steady rate in this process (beyond
 * what one core's HTTP path takes, so the HTTP ceiling does not hide the batching), the real
 * Parquet destination behind its delivery loop, and then the rows of every part file. At
 * maxBatchSize 1000 and a steady 15,000 events/s every file should hold 1,000 rows.
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { asyncBufferFromFile, parquetMetadataAsync } from 'hyparquet';
import { createParquetDestination } from '../dist/lib/audit-destinations/parquet/writer.js';
import { DeadLetterFile } from '../dist/lib/audit-destinations/dead-letter.js';
import { openJournal } from '../dist/lib/audit-journal/journal.js';
import { DeliveryLoop } from '../dist/lib/delivery/delivery-loop.js';
import { AuditEventProcessor } from '../dist/lib/delivery/processor.js';
import { createSilentLogger } from '../dist/lib/logger.js';
import { createEventFactory } from './realistic-events.js';

const TICK_MS = 10;

export async function benchBatchFill(
  eventsPerSecond: number,
  seconds: number,
  maxBatchSize = 1000,
): Promise<string[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-batch-fill-'));
  const logger = createSilentLogger();
  const journal = await openJournal({
    directory: path.join(dir, 'journal'),
    maxBytes: 4 * 1024 ** 3,
    fsync: 'batch',
    destinationIds: ['parquet'],
    logger,
  });
  const destination = await createParquetDestination(
    {
      exportDirectory: path.join(dir, 'parquet'),
      maxBatchSize,
      writeFrequency: 20000,
      staticTags: [],
      compression: 'snappy',
      includeEnvelope: true,
    },
    { logger, logId: journal.id },
  );
  const loop = new DeliveryLoop({
    destination,
    cursor: journal.openCursor('parquet'),
    processor: new AuditEventProcessor({ maxConcurrent: 10, readers: 1, maxShared: 1, logger }),
    deadLetters: new DeadLetterFile(path.join(dir, 'dead-letter'), 'parquet'),
    logger,
  });
  loop.start();
  const nextEvent = createEventFactory();
  const perTick = (eventsPerSecond * TICK_MS) / 1000;
  const started = performance.now();
  let sent = 0;
  while (performance.now() - started < seconds * 1000) {
    const due = Math.floor(((performance.now() - started) / 1000) * eventsPerSecond) + perTick;
    const appends: Promise<number>[] = [];
    for (; sent < due; sent += 1) appends.push(journal.append(nextEvent(sent)));
    await Promise.all(appends);
    await sleep(TICK_MS);
  }
  const achieved = sent / ((performance.now() - started) / 1000);
  await loop.drain(journal.lastSeq, Date.now() + 60_000);
  await loop.stop();
  await journal.close();
  const files = readdirSync(path.join(dir, 'parquet')).filter((name) => name.endsWith('.parquet'));
  const rows = await Promise.all(
    files.map(async (name) => {
      const metadata = await parquetMetadataAsync(await asyncBufferFromFile(path.join(dir, 'parquet', name)));
      return Number(metadata.num_rows);
    }),
  );
  const full = rows.filter((count) => count === maxBatchSize).length;
  const average = rows.reduce((sum, count) => sum + count, 0) / rows.length;
  // The last file holds what the final drain found: it is the one allowed to be short.
  const verdict = full >= rows.length - 1 ? 'met' : 'NOT met';
  return [
    `${sent} events at ${achieved.toFixed(0)} events/s into the journal, Parquet maxBatchSize ${maxBatchSize}: ` +
      `${files.length} files, ${average.toFixed(0)} rows on average, ${full} of them full ` +
      `(goal: every file but the last full: ${verdict})`,
  ];
}
