/**
 * Reads the `Butler-SOS` tree of a config file through the `config` package, as Butler SOS
 * does: `--configfile <file>` points NODE_CONFIG_DIR at the file's folder and NODE_ENV at its
 * name, so `config` merges that folder's default.yaml (if any) under the file. Without a file
 * and without NODE_CONFIG_DIR, the package's own config/default.yaml is read, from whatever
 * folder the program runs in.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Parser from 'config/parser.js';
import { load as parseYaml } from 'js-yaml';
import { validateAuditEventsConfig, type ConfigValidation } from './validate.js';

export class ConfigFileError extends Error {
  override readonly name = 'ConfigFileError';
}

/** The package's config folder: this file is lib/config/ below src/ or dist/. */
const PACKAGE_CONFIG_DIR = fileURLToPath(new URL('../../../config/', import.meta.url));

/** config/parser.js is an ES module whose types are written as CommonJS: its default export is the parser. */
function yamlParserOf(parser: unknown): {
  setParser(name: string, fn: (file: string, content: string) => unknown): void;
} {
  return parser as never;
}

/** Must run before `config` is first imported: it reads these variables once. */
function pointConfigAtFile(configFile: string): void {
  const absolute = path.resolve(configFile);
  process.env.NODE_CONFIG_DIR = path.dirname(absolute);
  const name = path.basename(absolute, path.extname(absolute));
  // default.yaml is read anyway; NODE_ENV=default would only make `config` warn.
  if (name !== 'default') process.env.NODE_ENV = name;
}

/** Which file the settings come from, for messages. */
export function configSource(configFile?: string): string {
  if (configFile !== undefined) return path.resolve(configFile);
  return path.join(process.env.NODE_CONFIG_DIR ?? PACKAGE_CONFIG_DIR, 'default.yaml');
}

/** The `Butler-SOS` tree, as plain objects; throws ConfigFileError when it cannot be read or is absent. */
export async function loadButlerSosConfig(configFile?: string): Promise<Record<string, unknown>> {
  process.env.SUPPRESS_NO_CONFIG_WARNING ??= 'true';
  // `config` looks for a YAML parser in the working directory's node_modules, and the program
  // runs from any directory: it gets ours (one YAML parser for the module, js-yaml).
  for (const extension of ['yaml', 'yml'])
    yamlParserOf(Parser).setParser(extension, (_file, content) => parseYaml(content));
  if (configFile !== undefined) pointConfigAtFile(configFile);
  else process.env.NODE_CONFIG_DIR ??= PACKAGE_CONFIG_DIR;
  let config: typeof import('config');
  try {
    config = (await import('config')).default;
  } catch (error) {
    throw new ConfigFileError(`cannot read the config: ${(error as Error).message.split('\n')[0]}`, {
      cause: error,
    });
  }
  if (!config.has('Butler-SOS')) {
    throw new ConfigFileError(`${configSource(configFile)} has no Butler-SOS section`);
  }
  return config.util.toObject(config.get('Butler-SOS')) as Record<string, unknown>;
}

/**
 * What a program reads from its config file: `source` names the file for messages; `unreadable`
 * is why the file could not be read (a ConfigFileError's message), else the `Butler-SOS` tree and
 * the validation of its auditEvents section. Each program words and exits on failures its own way.
 */
export type LoadedAuditEventsConfig = { source: string } & (
  | { unreadable: string }
  | { unreadable?: undefined; butlerSos: Record<string, unknown>; validation: ConfigValidation }
);

export async function loadAuditEventsConfig(configFile?: string): Promise<LoadedAuditEventsConfig> {
  const source = configSource(configFile);
  let butlerSos: Record<string, unknown>;
  try {
    butlerSos = await loadButlerSosConfig(configFile);
  } catch (error) {
    if (error instanceof ConfigFileError) return { source, unreadable: error.message };
    throw error;
  }
  // Whole, so that a Butler-SOS tree without auditEvents is missing it, not a section.
  return { source, butlerSos, validation: validateAuditEventsConfig({ 'Butler-SOS': butlerSos }) };
}
