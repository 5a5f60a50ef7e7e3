/**
 * docs/configuration.md against the JSON schema the module validates with: the "Every key" table
 * names each key of the schema with the schema's default, and nothing else; the "Butler SOS's
 * layouts" table covers every key of Butler SOS 15.0.x's section and of the older template's,
 * and names only keys that exist here.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { load } from 'js-yaml';
import { auditEventsConfigSchema } from '../../src/lib/config/schema.js';
import { codeSpans, tableUnder } from '../support/markdown.js';

const DOC = fileURLToPath(new URL('../../docs/configuration.md', import.meta.url));
const FIXTURES = new URL('../fixtures/butler-sos/', import.meta.url);

type Schema = { type?: unknown; properties?: Record<string, Schema>; default?: unknown; not?: unknown };

/** Every settable key of the schema (objects opened up, lists kept whole) with its default. */
function schemaKeys(schema: Schema, prefix = ''): Map<string, unknown> {
  const keys = new Map<string, unknown>();
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    const key = prefix === '' ? name : `${prefix}.${name}`;
    if (child.not !== undefined) continue; // refused keys (v3Config.queryTimeout): not settable
    if (child.type === 'object' && child.properties) {
      for (const [inner, value] of schemaKeys(child, key)) keys.set(inner, value);
    } else {
      keys.set(key, child.default);
    }
  }
  return keys;
}

/** The keys of a YAML `auditEvents` section, lists (and nulls standing for lists) kept whole. */
function sectionKeys(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [prefix];
  return Object.entries(value).flatMap(([name, child]) =>
    sectionKeys(child, prefix === '' ? name : `${prefix}.${name}`),
  );
}

function auditEventsOf(file: string): unknown {
  const tree = load(readFileSync(new URL(file, FIXTURES), 'utf8')) as Record<string, Record<string, unknown>>;
  return tree['Butler-SOS'].auditEvents;
}

/** `a.b.*` matches `a.b` and everything under it; any other pattern matches itself. */
function matches(pattern: string, key: string): boolean {
  if (!pattern.endsWith('.*')) return pattern === key;
  const stem = pattern.slice(0, -2);
  return key === stem || key.startsWith(`${stem}.`);
}

describe('docs/configuration.md', () => {
  const schema = schemaKeys(auditEventsConfigSchema as Schema);
  const reference = tableUnder(DOC, 'Every key').map(([key, defaultValue]) => ({
    key: codeSpans(key)[0],
    defaultValue: defaultValue === '—' ? undefined : JSON.parse(codeSpans(defaultValue)[0]),
  }));
  const layouts = tableUnder(DOC, "Butler SOS's layouts").map(([butlerSos, here]) => ({
    butlerSos: codeSpans(butlerSos.replace(/\(outside `auditEvents`\)/, '')),
    // 'same', a key here, or '(warned …)' for what this module does not have.
    here: here === 'same' ? 'same' : here.startsWith('(') ? [] : codeSpans(here),
  }));

  it('names every key of the schema once, and no key the schema does not have', () => {
    const documented = reference.map((row) => row.key);
    expect(new Set(documented).size, 'a key twice').to.equal(documented.length);
    expect([...documented].sort()).to.deep.equal([...schema.keys()].sort());
    expect(documented.length).to.be.greaterThan(90);
  });

  it("gives each key the schema's default", () => {
    for (const { key, defaultValue } of reference) expect(defaultValue, key).to.deep.equal(schema.get(key));
  });

  it('maps to keys that exist here', () => {
    const exists = (pattern: string) => [...schema.keys()].some((key) => matches(pattern, key));
    expect(layouts.length, "rows in the table of Butler SOS's layouts").to.be.greaterThan(0);
    for (const { butlerSos, here } of layouts) {
      const named = here === 'same' ? butlerSos : here;
      for (const pattern of named)
        expect(exists(pattern), `${pattern} (for ${butlerSos.join(', ')})`).to.equal(true);
    }
  });

  for (const fixture of ['audit-events-15.0.x.yaml', 'audit-events-older-template.yaml']) {
    it(`covers every key of ${fixture}`, () => {
      const patterns = layouts.flatMap((row) => row.butlerSos);
      const keys = sectionKeys(auditEventsOf(fixture));
      expect(keys.length).to.be.greaterThan(40);
      const uncovered = keys.filter(
        (key) => !schema.has(key) && !patterns.some((pattern) => matches(pattern, key)),
      );
      expect(uncovered).to.deep.equal([]);
    });
  }
});
