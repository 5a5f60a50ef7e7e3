/**
 * The query examples in docs/ are run here against data the module wrote, so that a user who
 * copies one gets an answer, not a syntax error.
 */
import path from 'node:path';
import { expect } from 'chai';
import { AuditEventProcessor } from '../../src/lib/audit-events/processor.js';
import { createParquetDestination } from '../../src/lib/audit-destinations/parquet/writer.js';
import { validateAuditEventsConfig } from '../../src/lib/config/validate.js';
import { createSilentLogger } from '../../src/lib/logger.js';
import { fixtureTypes, loadFixture } from '../support/fixtures.js';
import { codeBlocks } from '../support/markdown.js';
import { tempDir } from '../support/module-process.js';
import { runDuckDbQuery } from '../support/parquet-reader.js';

describe('query examples in docs/parquet.md', () => {
  const workDir = tempDir('docs-parquet');

  before(async () => {
    const validation = validateAuditEventsConfig({});
    if (!validation.ok) throw new Error(validation.problems.join('\n'));
    const destination = await createParquetDestination(validation.config.destination.parquet, {
      logger: createSilentLogger(),
      baseDir: workDir,
    });
    const processor = new AuditEventProcessor({ maxConcurrent: 1, readers: 1, logger: createSilentLogger() });
    for (const [index, type] of fixtureTypes().entries()) {
      destination.writeAuditEvent(await processor.recordFor({ seq: index + 1, envelope: loadFixture(type) }));
    }
    await destination.close();
  });

  const queries = codeBlocks(path.join('docs', 'parquet.md'), 'sql');

  it('has examples to run', () => {
    expect(queries.length).to.be.greaterThan(1);
  });

  for (const [index, sql] of queries.entries()) {
    it(`example ${index + 1} answers with rows: ${sql.split('\n')[0]}`, async () => {
      const rows = await runDuckDbQuery(sql, workDir);
      expect(rows.length).to.be.greaterThan(0);
    });
  }
});
