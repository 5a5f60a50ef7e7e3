/**
 * The Parquet export directory on a real full disk (a small tmpfs filled but for one page),
 * the journal on the normal disk: the API must keep answering 202, a failed write must leave
 * no temporary or partial file behind, and once there is room again every accepted event must
 * land exactly once, without a restart.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import type { AuditEnvelope } from '../../src/lib/audit-events/types.js';
import { destinationHealth, postAuditEventStatus } from '../support/audit-api-client.js';
import { eventually } from '../support/eventually.js';
import { freshEnvelope } from '../support/fixtures.js';
import {
  startModule,
  stopModule,
  tempDir,
  writeConfigFile,
  type ModuleProcess,
} from '../support/module-process.js';
import { countParquetRows, readParquetEventIds } from '../support/parquet-reader.js';
import { mountTmpfs, type Tmpfs } from '../support/tmpfs.js';

const PART_FILE = /^\d{8}_part\d+\.parquet$/;
const MiB = 1024 * 1024;
const PAGE = 4096;

/**
 * An event whose row alone is larger than a page (incompressible objectData): with one free
 * page, every attempt writes part of its temporary file before ENOSPC, never a whole file.
 */
function bulkyEvent(): AuditEnvelope {
  const envelope = freshEnvelope('object.view.duration');
  envelope.payload.event!.objectData = {
    objectType: 'table',
    blob: randomBytes(2 * PAGE).toString('base64'),
  };
  return envelope;
}

describe('Parquet export directory on a full disk', function () {
  this.timeout(120000);
  let tmpfs: Tmpfs | null = null;
  let module: ModuleProcess | null = null;

  afterEach(async () => {
    // The module first: a file system with open files cannot be unmounted.
    if (module && module.child.exitCode === null) await stopModule(module, 'SIGKILL');
    module = null;
    tmpfs?.unmount();
    tmpfs = null;
  });

  it('keeps answering 202, leaves no temporary file, and writes every event once when room returns', async () => {
    tmpfs = mountTmpfs(MiB, 'parquet-full');
    // A folder of its own, so that the filler file stays outside what the module writes.
    const exportDirectory = path.join(tmpfs.directory, 'parquet');
    mkdirSync(exportDirectory);
    const glob = path.join(exportDirectory, '*.parquet');
    const dir = tempDir('parquet-full');
    module = await startModule(
      writeConfigFile(dir, {
        port: 0,
        rateLimit: { enable: false },
        shutdownTimeoutMs: 20000,
        journal: { directory: path.join(dir, 'journal') },
        destination: { type: 'parquet', parquet: { exportDirectory, writeFrequency: 200 } },
      }),
    );
    const { baseUrl } = module;
    const accepted: AuditEnvelope[] = [];
    const post = async (count: number) => {
      for (let i = 0; i < count; i += 1) {
        const envelope = bulkyEvent();
        expect(await postAuditEventStatus(baseUrl, envelope)).to.equal(202);
        accepted.push(envelope);
      }
    };
    const rowsReach = (rows: number) =>
      eventually(
        async () => ((await countParquetRows(glob).catch(() => 0)) >= rows ? true : undefined),
        60000,
        `${rows} rows in the part files`,
      );
    /** What the directory holds that is not a whole part file (a temp file, a hidden file). */
    const notPartFiles = () => readdirSync(exportDirectory).filter((name) => !PART_FILE.test(name));

    await post(5);
    await rowsReach(5);

    tmpfs.fill();
    tmpfs.resize(MiB + PAGE); // one page back: room for part of a file, never a whole one
    await post(20);
    // Failed twice on the kernel's own ENOSPC: the batch waits for a retry.
    await eventually(
      async () => {
        const parquet = await destinationHealth(baseUrl, 'parquet');
        return parquet.failed >= 2 && /ENOSPC/.test(parquet.lastError ?? '') ? true : undefined;
      },
      60000,
      'the Parquet writes to fail with ENOSPC',
    );
    await post(5); // still accepted while Parquet cannot write
    // A retry's temp file lives for a moment; one a failed attempt left behind would stay.
    await eventually(
      async () => {
        const leftovers = notPartFiles();
        if (leftovers.length > 0) throw new Error(`left in the export directory: ${leftovers.join(', ')}`);
        return true;
      },
      30000,
      'only whole part files in the export directory',
    );
    expect(await countParquetRows(glob), 'rows while the disk is full (whole files only)').to.equal(5);

    tmpfs.resize(16 * MiB);
    await rowsReach(accepted.length);
    // Everything is written: no attempt is in flight, the listing is final.
    expect(notPartFiles()).to.deep.equal([]);
    const written = await readParquetEventIds(glob);
    expect(written.length, 'rows').to.equal(accepted.length);
    expect(new Set(written).size, 'distinct eventIds').to.equal(accepted.length);
    expect([...written].sort()).to.deep.equal(accepted.map((envelope) => envelope.eventId).sort());
    expect((await destinationHealth(baseUrl, 'parquet')).healthy).to.equal(true);

    expect(await stopModule(module)).to.equal(0);
    expect(await countParquetRows(glob), 'rows after a clean stop').to.equal(accepted.length);
  });
});
