/** What the InfluxDB sink writes through: one writer per InfluxDB version (v1.ts, v2.ts, v3.ts). */
export interface InfluxPointWriter {
  /**
   * Writes the whole batch in one HTTP request, with no retries of its own, or throws an
   * InfluxWriteError (write-errors.ts) that says what the answer means. The lines are
   * toLineProtocol()'s: the sink converts each point once, and a retry or a split sends the
   * same lines again.
   */
  write(lines: string[]): Promise<void>;
  close(): Promise<void>;
}
