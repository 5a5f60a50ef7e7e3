/** The realistic envelopes of test/fixtures, one per event type, as Audit.qs sends them. */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AuditEnvelope } from '../../src/lib/audit-events/types.js';

export const FIXTURES_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

export function loadFixture(type: string): AuditEnvelope {
  return JSON.parse(readFileSync(path.join(FIXTURES_DIR, `${type}.json`), 'utf8')) as AuditEnvelope;
}

export function fixtureTypes(): string[] {
  return readdirSync(FIXTURES_DIR)
    .filter((name) => name.endsWith('.json'))
    .map((name) => name.replace(/\.json$/, ''));
}

/** A fixture with a fresh eventId (and any overrides), so that tests can post it many times. */
export function freshEnvelope(type: string, overrides: Partial<AuditEnvelope> = {}): AuditEnvelope {
  return { ...loadFixture(type), eventId: crypto.randomUUID(), ...overrides };
}
