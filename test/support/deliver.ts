/**
 * Writes records through a destination the way the delivery loop does, without a log: in
 * batches of its maxBatchSize, through the one reject policy (src/lib/delivery/batch-delivery.ts:
 * retries, isolation, dead letters). For destination tests that start from records.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DeadLetterFile } from '../../src/lib/audit-destinations/dead-letter.js';
import type { AuditDestination } from '../../src/lib/audit-destinations/destination.js';
import type { AuditRecord } from '../../src/lib/audit-events/types.js';
import { BatchDelivery, type DeliveryItem } from '../../src/lib/delivery/batch-delivery.js';
import { createSilentLogger, type Logger } from '../../src/lib/logger.js';

export interface DeliverOptions {
  /** Log sequence numbers of the records, in order (default: none). */
  seqs?: number[];
  /** Where refused records go (default: a new temp directory). */
  deadLetters?: DeadLetterFile;
  logger?: Logger;
  /** Back-off of the retries (default: 10..100 ms, so a test does not wait long). */
  retry?: { initialDelayMs: number; maxDelayMs: number };
}

/** Delivers every record (written or dead-lettered); resolves with the seqs settled, in order. */
export async function deliverRecords(
  destination: AuditDestination,
  records: readonly AuditRecord[],
  options: DeliverOptions = {},
): Promise<number[]> {
  const settled: number[] = [];
  const delivery = new BatchDelivery({
    destinationId: destination.id,
    sink: destination.sink,
    maxBatchSize: destination.maxBatchSize,
    deadLetters:
      options.deadLetters ??
      new DeadLetterFile(
        path.join(mkdtempSync(path.join(os.tmpdir(), 'dead-letter-')), 'dead-letter'),
        destination.id,
      ),
    retry: options.retry ?? { initialDelayMs: 10, maxDelayMs: 100 },
    logger: options.logger ?? createSilentLogger(),
    settled: (events) => settled.push(...events.flatMap(({ seq }) => (seq === undefined ? [] : [seq]))),
  });
  const items: DeliveryItem[] = records.map((value, index) => ({ value, seq: options.seqs?.[index] }));
  for (let start = 0; start < items.length; start += destination.maxBatchSize) {
    await delivery.deliver(items.slice(start, start + destination.maxBatchSize));
  }
  return settled;
}
