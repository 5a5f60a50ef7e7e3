/**
 * How each InfluxDB version names a field type conflict, for tests that check the server's
 * message reached the user: 1.x and 2.x share the TSDB engine's text (`tsdb/field_validator.go`),
 * InfluxDB 3 its catalog's (`influxdb3_catalog/src/error.rs` InvalidColumnType; the emulator
 * answers with it).
 */
export function typeConflictText(version: 1 | 2 | 3, column: string): string {
  return version === 3
    ? `invalid column type for column '${column}'`
    : `field type conflict: input field "${column}"`;
}
