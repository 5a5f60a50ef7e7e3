/** What the registry builds from a destination's config block: its sink and its batching. */
import type { DestinationType } from '../config/schema.js';
import type { Sink } from './sink.js';

export interface AuditDestination {
  /** Its type name: the key of its checkpoint and of its dead-letter file. */
  readonly id: DestinationType;
  readonly sink: Sink;
  /** The seeds' hybrid-buffer rule: up to maxBatchSize per write, waiting at most writeFrequency ms (0: per event). */
  readonly maxBatchSize: number;
  readonly writeFrequency: number;
  /**
   * The highest log sequence number this destination found already written at start (the
   * Parquet files say so); its cursor starts after it, so no row is written twice.
   */
  readonly durableThrough: number;
  /** Resolves when the target became ready (InfluxDB's startup hooks): a pending retry goes at once. */
  readonly ready?: Promise<void>;
  /** Stops background work and closes the sink. */
  close(): Promise<void>;
}
