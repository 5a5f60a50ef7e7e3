/**
 * Validates `Butler-SOS.auditEvents` against the one schema, applies its defaults, and turns
 * ajv's errors into one readable line per problem: key path, what is wrong, what is allowed.
 */
import { Ajv, type ErrorObject } from 'ajv';
import ajvErrors from 'ajv-errors';
import {
  auditEventsConfigSchema,
  DESTINATION_TYPES,
  type AuditEventsConfig,
  type DestinationType,
} from './schema.js';

export const CONFIG_ROOT = 'Butler-SOS.auditEvents';

export type ConfigValidation = { ok: true; config: AuditEventsConfig } | { ok: false; problems: string[] };

function createConfigValidator() {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
  ajvErrors.default(ajv);
  return ajv.compile(auditEventsConfigSchema);
}

function keyPath(instancePath: string, extraKey?: string): string {
  const parts = instancePath.split('/').filter(Boolean);
  if (extraKey !== undefined) parts.push(extraKey);
  return [CONFIG_ROOT, ...parts].join('.');
}

function describeValue(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'object') return 'an object';
  return String(value);
}

function formatProblem(error: ErrorObject, root: unknown): string | null {
  const value = valueAt(root, error.instancePath);
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties': {
      const allowed = Object.keys(schemaAt(error.schemaPath)?.properties ?? {});
      return `${keyPath(error.instancePath, String(params.additionalProperty))}: unknown key; allowed here: ${allowed.join(', ')}`;
    }
    case 'required':
      return `${keyPath(error.instancePath, String(params.missingProperty))}: missing; it is required here`;
    case 'type':
      return `${keyPath(error.instancePath)}: is ${describeValue(value)}, must be ${String(params.type)}`;
    case 'enum':
      return `${keyPath(error.instancePath)}: is ${describeValue(value)}; allowed: ${(params.allowedValues as unknown[]).map(describeValue).join(', ')}`;
    case 'minimum':
    case 'maximum':
    case 'minLength':
    case 'maxLength':
      return `${keyPath(error.instancePath)}: is ${describeValue(value)}, ${error.message}`;
    case 'if':
      return null; // the failing `then` branch reports the missing key itself
    default:
      return `${keyPath(error.instancePath)}: is ${describeValue(value)}, ${error.message}`;
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
  const names = type
    .split(',')
    .map((name) => name.trim().toLowerCase())
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
function crossKeyProblems(candidate: unknown): string[] {
  const destination = (candidate as { destination?: Partial<AuditEventsConfig['destination']> }).destination;
  if (typeof destination?.type !== 'string') return [];
  const problems: string[] = [];
  const { types, unknown } = parseDestinationTypes(destination.type);
  const typePath = `${CONFIG_ROOT}.destination.type`;
  for (const name of unknown) {
    problems.push(`${typePath}: unknown destination '${name}'; allowed: ${DESTINATION_TYPES.join(', ')}`);
  }
  if (destination.enable !== false && types.includes('influxdb') && !destination.influxdb) {
    problems.push(
      `${CONFIG_ROOT}.destination.influxdb: missing; required when destination.type includes influxdb`,
    );
  }
  return problems;
}

/**
 * Validates a raw config tree (a deep copy is made: the `config` package freezes its objects)
 * and returns the config with defaults applied, or every problem found.
 */
export function validateAuditEventsConfig(
  raw: unknown,
  validate = createConfigValidator(),
): ConfigValidation {
  const candidate = structuredClone(raw ?? {});
  const valid = validate(candidate);
  const schemaProblems = (validate.errors ?? [])
    .map((error) => formatProblem(error, candidate))
    .filter((line): line is string => line !== null);
  const problems = [...new Set([...schemaProblems, ...crossKeyProblems(candidate)])];
  return valid && problems.length === 0
    ? { ok: true, config: candidate as AuditEventsConfig }
    : { ok: false, problems };
}
