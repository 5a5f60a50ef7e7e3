/** A config tree through the module's own validator, with its defaults; a problem fails the test at once. */
import type { AuditEventsConfig } from '../../src/lib/config/schema.js';
import { validateAuditEventsConfig } from '../../src/lib/config/validate.js';

export function validConfig(raw: unknown): AuditEventsConfig {
  const result = validateAuditEventsConfig(raw);
  if (!result.ok) throw new Error(result.problems.join('\n'));
  return result.config;
}
