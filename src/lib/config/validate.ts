/**
 * Validates `Butler-SOS.auditEvents` against the one schema, applies its defaults, and turns
 * ajv's errors into one readable line per problem: key path (as written in the file), what is
 * wrong, what is allowed. Butler SOS's own layouts are turned into this module's first
 * (butler-sos-layouts.ts).
 */
import { Ajv, type ErrorObject } from 'ajv';
import ajvErrors from 'ajv-errors';
import { toModuleLayout } from './butler-sos-layouts.js';
import {
  auditEventsConfigSchema,
  CONFIG_ROOT,
  DESTINATION_TYPES,
  destinationTypeNames,
  type AuditEventsConfig,
  type DestinationType,
} from './schema.js';

/**
 * `warnings`: what the file asks for that this module does not do (Butler SOS features it does
 * not have); log them at start.
 */
export type ConfigValidation =
  { ok: true; config: AuditEventsConfig; warnings: string[] } | { ok: false; problems: string[] };

/** A key path of the validated section, as the file names it. */
type PathNamer = (path: string) => string;

/**
 * Compiled once, at import (compiling takes tens of ms). Its `errors` are read right after each
 * call, before anything else can call it; with useDefaults it fills in the copy it is given.
 */
const validateSchema = (() => {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
  ajvErrors.default(ajv);
  return ajv.compile(auditEventsConfigSchema);
})();

/** Names paths as the file has them: a key that moved from Butler SOS's layout keeps its own path. */
function pathNamer(origins: Map<string, string>): PathNamer {
  return (path) => {
    const parts = path.split('.');
    for (let length = parts.length; length > 0; length -= 1) {
      const origin = origins.get(parts.slice(0, length).join('.'));
      if (origin !== undefined) return [CONFIG_ROOT, origin, ...parts.slice(length)].join('.');
    }
    return [CONFIG_ROOT, ...parts].join('.');
  };
}

function keyPath(name: PathNamer, instancePath: string, extraKey?: string): string {
  const parts = instancePath
    .split('/')
    .filter(Boolean)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (extraKey !== undefined) parts.push(extraKey);
  return name(parts.join('.'));
}

function describeValue(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'object') return 'an object';
  return String(value);
}

function formatProblem(error: ErrorObject, root: unknown, name: PathNamer): string | null {
  const value = valueAt(root, error.instancePath);
  const params = error.params as Record<string, unknown>;
  const at = (extraKey?: string) => keyPath(name, error.instancePath, extraKey);
  switch (error.keyword) {
    case 'additionalProperties': {
      const allowed = Object.keys(schemaAt(error.schemaPath)?.properties ?? {});
      return `${at(String(params.additionalProperty))}: unknown key; allowed here: ${allowed.join(', ')}`;
    }
    case 'required':
      return `${at(String(params.missingProperty))}: missing; it is required here`;
    case 'type':
      return `${at()}: is ${describeValue(value)}, must be ${String(params.type)}`;
    case 'enum':
      return `${at()}: is ${describeValue(value)}; allowed: ${(params.allowedValues as unknown[]).map(describeValue).join(', ')}`;
    case 'minimum':
    case 'maximum':
    case 'minLength':
    case 'maxLength':
      return `${at()}: is ${describeValue(value)}, ${error.message}`;
    case 'if':
      return null; // the failing `then` branch reports the missing key itself
    default:
      return `${at()}: is ${describeValue(value)}, ${error.message}`;
  }
}

function valueAt(root: unknown, instancePath: string): unknown {
  let node = root;
  for (const part of instancePath.split('/').filter(Boolean)) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return node;
}

interface SchemaNode {
  properties?: Record<string, unknown>;
}

function schemaAt(schemaPath: string): SchemaNode | undefined {
  let node: unknown = auditEventsConfigSchema;
  const parts = schemaPath.replace(/^#\//, '').split('/');
  parts.pop(); // the keyword itself
  for (const part of parts) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node as SchemaNode | undefined;
}

/** `destination.type` as a list: comma-delimited, case and spaces ignored. */
export function parseDestinationTypes(type: string): { types: DestinationType[]; unknown: string[] } {
  const names = destinationTypeNames(type)
    .map((name) => name.toLowerCase())
    .filter(Boolean);
  const known = new Set<string>(DESTINATION_TYPES);
  return {
    types: [...new Set(names.filter((name) => known.has(name)))] as DestinationType[],
    unknown: names.filter((name) => !known.has(name)),
  };
}

/**
 * Rules across keys. They read the candidate even when the schema failed elsewhere, so that
 * every problem is reported in one run; hence the defensive reads.
 */
function crossKeyProblems(candidate: unknown, name: PathNamer): string[] {
  const destination = (candidate as { destination?: Partial<AuditEventsConfig['destination']> }).destination;
  if (typeof destination?.type !== 'string') return [];
  const problems: string[] = [];
  const { types, unknown } = parseDestinationTypes(destination.type);
  const typePath = name('destination.type');
  for (const name of unknown) {
    problems.push(`${typePath}: unknown destination '${name}'; allowed: ${DESTINATION_TYPES.join(', ')}`);
  }
  if (destination.enable !== false && types.includes('influxdb') && !destination.influxdb) {
    problems.push(
      `${name('destination.influxdb')}: missing; required when destination.type includes influxdb`,
    );
  }
  return problems;
}

type Tree = Record<string, unknown>;

function isTree(value: unknown): value is Tree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * What a caller may pass: a whole config (`{ "Butler-SOS": {...} }`), the `Butler-SOS` tree, or
 * the `auditEvents` section itself. Returns the section and the tree around it.
 */
function auditEventsSectionOf(tree: unknown): { section: unknown; butlerSos: Tree } | null {
  const butlerSos = isTree(tree) && isTree(tree['Butler-SOS']) ? tree['Butler-SOS'] : undefined;
  if (butlerSos !== undefined || (isTree(tree) && Object.hasOwn(tree, 'auditEvents'))) {
    const node = butlerSos ?? (tree as Tree);
    return isTree(node.auditEvents) ? { section: node.auditEvents, butlerSos: node } : null;
  }
  return { section: tree ?? {}, butlerSos: {} };
}

/**
 * Checks a config without starting anything: `{ ok: true, config, warnings }` with the defaults
 * applied and what the module will not do (Butler SOS features it does not have), or
 * `{ ok: false, problems }`. Takes any tree auditEventsSectionOf does; a copy is validated (the
 * `config` package freezes its objects).
 */
export function validateAuditEventsConfig(tree: unknown): ConfigValidation {
  const found = auditEventsSectionOf(tree);
  if (found === null) {
    return {
      ok: false,
      problems: [
        `${CONFIG_ROOT}: missing; add the section (config/production_template.yaml lists every key)`,
      ],
    };
  }
  const layout = toModuleLayout(found.section, found.butlerSos);
  const name = pathNamer(layout.origins);
  const candidate = layout.section;
  const valid = validateSchema(candidate);
  const schemaProblems = (validateSchema.errors ?? [])
    .map((error) => formatProblem(error, candidate, name))
    .filter((line): line is string => line !== null);
  const problems = [
    ...new Set([...layout.problems, ...schemaProblems, ...crossKeyProblems(candidate, name)]),
  ];
  return valid && problems.length === 0
    ? { ok: true, config: candidate as AuditEventsConfig, warnings: layout.warnings }
    : { ok: false, problems };
}
