/**
 * Butler SOS config files as their users have them. Butler SOS 15.0.x lays `auditEvents` out
 * differently from this module (the seeds' layout), and its older template differs again; both
 * must start unchanged. This turns either into this module's layout before validation: same
 * setting, same meaning. What this module does not implement gives one warning naming it; a
 * setting given in both layouts is a problem naming both paths. docs/configuration.md has the
 * table of every key.
 */
import { CONFIG_ROOT, DESTINATION_TYPES, destinationTypeNames } from './schema.js';

type Tree = Record<string, unknown>;

export interface ModuleLayout {
  /** The auditEvents section in this module's layout. */
  section: Tree;
  warnings: string[];
  problems: string[];
  /** Where a key path of `section` was written in the file, when it moved ('a.b' → 'a.metadata.b'). */
  origins: Map<string, string>;
}

/** Destination types Butler SOS has and this module does not. */
const BUTLER_SOS_ONLY_DESTINATIONS = ['qvd', 'json'];

/** Keys Butler SOS allows to be null for "none"; this module wants a list. */
const NULLABLE_LISTS = new Set([
  'staticTags',
  'allowedOrigins',
  'storageTargets',
  'allowedImageDownloadHosts',
  'tags',
]);

/** The older template's flat addInImageMetadata flags, by the field they mean now. */
const OLDER_METADATA_FIELDS: Record<string, string> = {
  date: 'date',
  eventId: 'eventId',
  correlationId: 'correlationId',
  selectionTxnId: 'selectionTxnId',
  userId: 'user',
  appId: 'appId',
  appName: 'appName',
  sheetName: 'sheetName',
  viewingDuration: 'viewingDuration',
};

function isTree(value: unknown): value is Tree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Moves keys inside one section, recording where each came from and refusing duplicates. */
class LayoutMover {
  readonly warnings: string[] = [];
  readonly problems: string[] = [];
  readonly origins = new Map<string, string>();

  constructor(readonly section: Tree) {}

  get(path: string): unknown {
    let node: unknown = this.section;
    for (const key of path.split('.')) node = isTree(node) ? node[key] : undefined;
    return node;
  }

  has(path: string): boolean {
    const parts = path.split('.');
    const parent = this.get(parts.slice(0, -1).join('.')) ?? (parts.length === 1 ? this.section : undefined);
    return isTree(parent) && Object.hasOwn(parent, parts[parts.length - 1]);
  }

  delete(path: string): void {
    const parts = path.split('.');
    const parent = parts.length === 1 ? this.section : this.get(parts.slice(0, -1).join('.'));
    if (isTree(parent)) delete parent[parts[parts.length - 1]];
  }

  set(path: string, value: unknown): void {
    const parts = path.split('.');
    let node = this.section;
    for (const key of parts.slice(0, -1)) {
      if (!isTree(node[key])) node[key] = {};
      node = node[key] as Tree;
    }
    node[parts[parts.length - 1]] = value;
  }

  /** The file's name for a path of the section. */
  full(path: string): string {
    return `${CONFIG_ROOT}.${this.origins.get(path) ?? path}`;
  }

  /** Moves `from` to `to`; both given is a problem, since one setting would silently win. */
  move(from: string, to: string): void {
    if (!this.has(from)) return;
    if (this.has(to)) {
      this.problems.push(
        `${this.full(to)} and ${this.full(from)} are the same setting in two layouts: keep one of them`,
      );
      this.delete(from);
      return;
    }
    this.set(to, this.get(from));
    this.delete(from);
    this.origins.set(to, this.origins.get(from) ?? from);
  }

  /** Moves every key of the block `from` into the block `to` (Butler SOS's metadata level). */
  moveKeysOf(from: string, to: string): void {
    const block = this.get(from);
    if (!isTree(block)) return;
    for (const key of Object.keys(block)) this.move(`${from}.${key}`, `${to}.${key}`);
    this.delete(from);
  }

  warn(message: string): void {
    this.warnings.push(message);
  }
}

function mapDestinationBlocks(layout: LayoutMover): void {
  for (const type of DESTINATION_TYPES) {
    layout.moveKeysOf(`destination.${type}.metadata`, `destination.${type}`);
  }
  for (const type of [...DESTINATION_TYPES, 'qvd']) {
    if (layout.get(`destination.${type}.objectdata.enable`) === true) {
      layout.warn(
        `${layout.full(`destination.${type}.objectdata`)}: exporting object data apart is a Butler SOS feature ` +
          'this module does not have; ignored (objectData is stored with each event)',
      );
    }
    layout.delete(`destination.${type}.objectdata`);
    if (layout.get(`destination.${type}.includeObjectData`) === false) {
      layout.warn(
        `${layout.full(`destination.${type}.includeObjectData`)}: false is a Butler SOS setting this module ` +
          'does not have; objectData is stored with each event',
      );
    }
    layout.delete(`destination.${type}.includeObjectData`);
  }
  const type = layout.get('destination.type');
  if (typeof type === 'string') {
    const names = destinationTypeNames(type);
    const kept = names.filter((name) => !BUTLER_SOS_ONLY_DESTINATIONS.includes(name.toLowerCase()));
    for (const name of names.filter((candidate) => !kept.includes(candidate))) {
      layout.warn(
        `${layout.full('destination.type')}: '${name}' is a Butler SOS destination this module does not have; ` +
          'skipped, the other destinations run',
      );
    }
    if (kept.length !== names.length) layout.set('destination.type', kept.join(', '));
  }
  for (const name of BUTLER_SOS_ONLY_DESTINATIONS) layout.delete(`destination.${name}`);
}

function mapQueueAndTls(layout: LayoutMover): void {
  for (const key of ['maxConcurrent', 'maxSize', 'backpressureThreshold']) {
    layout.move(`queue.messageQueue.${key}`, `queue.${key}`);
  }
  layout.delete('queue.messageQueue');
  layout.move('tls.cert', 'tls.certFile');
  layout.move('tls.key', 'tls.keyFile');
  if (layout.has('tls.ca')) {
    layout.warn(
      `${layout.full('tls.ca')}: ignored, as Butler SOS ignores it; to require client certificates signed ` +
        'by a CA, set tls.caFile',
    );
    layout.delete('tls.ca');
  }
}

/** The older template's `auditEvents.screenshots`, with its flat metadata flags. */
function mapOlderScreenshots(layout: LayoutMover): void {
  layout.move('screenshots', 'destination.screenshots');
  const metadata = layout.get('destination.screenshots.addInImageMetadata');
  if (!isTree(metadata) || 'fields' in metadata || 'enable' in metadata) return;
  const fields = Object.fromEntries(
    Object.entries(metadata)
      .filter(([key]) => key in OLDER_METADATA_FIELDS)
      .map(([key, value]) => [OLDER_METADATA_FIELDS[key], value]),
  );
  layout.set('destination.screenshots.addInImageMetadata', {
    enable: Object.values(fields).some((value) => value === true),
    fields,
  });
}

/** Butler SOS's Qlik client certificate, used for QPS tickets when the screenshots block names none. */
function qlikCertificateFallback(layout: LayoutMover, butlerSos: Tree): void {
  const mode = layout.get('destination.screenshots.auth.mode');
  if ((mode !== 'qpsTicket' && mode !== 'userTicket') || layout.has('destination.screenshots.auth.tls'))
    return;
  const cert = isTree(butlerSos.cert) ? butlerSos.cert : {};
  const tls: Tree = {};
  const from: Array<[string, string]> = [
    ['clientCert', 'certFile'],
    ['clientCertKey', 'keyFile'],
    ['clientCertCA', 'caFile'],
    ['clientCertPassphrase', 'passphrase'],
  ];
  for (const [butlerKey, key] of from) {
    if (typeof cert[butlerKey] === 'string' && cert[butlerKey] !== '') tls[key] = cert[butlerKey];
  }
  const servers = isTree(butlerSos.serversToMonitor) ? butlerSos.serversToMonitor : {};
  if (typeof servers.rejectUnauthorized === 'boolean') tls.rejectUnauthorized = servers.rejectUnauthorized;
  if (Object.keys(tls).length === 0) return;
  layout.set('destination.screenshots.auth.tls', tls);
  layout.origins.set('destination.screenshots.auth.tls', '(Butler-SOS.cert)');
}

/** null for a list means none, as Butler SOS reads it. */
function nullListsToEmpty(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) nullListsToEmpty(item);
    return;
  }
  if (!isTree(node)) return;
  for (const [key, value] of Object.entries(node)) {
    if (value === null && NULLABLE_LISTS.has(key)) node[key] = [];
    else nullListsToEmpty(value);
  }
}

/**
 * `section`: the raw `auditEvents` tree (a copy is made); `butlerSos`: the rest of the
 * `Butler-SOS` tree, for the settings read from outside the section (the Qlik certificate).
 */
export function toModuleLayout(section: unknown, butlerSos: Tree = {}): ModuleLayout {
  const copy = isTree(section) ? (structuredClone(section) as Tree) : {};
  const layout = new LayoutMover(copy);
  nullListsToEmpty(copy);
  mapDestinationBlocks(layout);
  mapQueueAndTls(layout);
  mapOlderScreenshots(layout);
  qlikCertificateFallback(layout, butlerSos);
  return { section: copy, warnings: layout.warnings, problems: layout.problems, origins: layout.origins };
}
