/**
 * Loads `Butler-SOS.auditEvents` through the `config` package, as Butler SOS does:
 * `--configfile <file>` points NODE_CONFIG_DIR at the file's folder and NODE_ENV at its name,
 * so `config` merges that folder's default.yaml (if any) with the file.
 */
import path from 'node:path';
import { CONFIG_ROOT } from './validate.js';

export class ConfigFileError extends Error {
  override readonly name = 'ConfigFileError';
}

/** Must run before `config` is first imported: it reads these variables once. */
function pointConfigAtFile(configFile: string): void {
  const absolute = path.resolve(configFile);
  process.env.NODE_CONFIG_DIR = path.dirname(absolute);
  process.env.NODE_ENV = path.basename(absolute, path.extname(absolute));
}

export async function loadRawAuditEventsConfig(configFile?: string): Promise<unknown> {
  process.env.SUPPRESS_NO_CONFIG_WARNING ??= 'true';
  if (configFile !== undefined) pointConfigAtFile(configFile);
  let config: typeof import('config');
  try {
    config = (await import('config')).default;
  } catch (error) {
    throw new ConfigFileError(`cannot read the config: ${(error as Error).message.split('\n')[0]}`);
  }
  if (!config.has(CONFIG_ROOT)) {
    const where = configFile ?? path.join(process.env.NODE_CONFIG_DIR ?? 'config', 'default.yaml');
    throw new ConfigFileError(`${CONFIG_ROOT}: missing in ${where}`);
  }
  return config.util.toObject(config.get(CONFIG_ROOT));
}
