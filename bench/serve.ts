/**
 * One server for the HTTP benchmark, in its own process so that the load generator does not
 * share its event loop: `module` (the audit module, journal off, Parquet destination) or
 * `ceiling` (a bare fastify route that only parses and validates the same JSON). The module's
 * destination is `parquet:<dir>` or `influxdb-v1:<port>:<database>`; a third argument, a
 * directory, turns the journal on.
 * Prints `listening <port>` once ready.
 */
import Fastify from 'fastify';
import { createAuditModule } from '../dist/lib/audit-module.js';
import { createEnvelopeValidator } from '../dist/lib/audit-events/envelope-validator.js';
import type { AuditEnvelope } from '../dist/lib/audit-events/types.js';
import { validateAuditEventsConfig } from '../dist/lib/config/validate.js';
import { createSilentLogger } from '../dist/lib/logger.js';

async function serveCeiling(): Promise<number> {
  const validator = createEnvelopeValidator();
  const app = Fastify({ logger: false });
  app.post('/api/v1/audit-event', async (request, reply) => {
    const envelopeErrors = validator.validateEnvelope(request.body);
    const errors =
      envelopeErrors.length > 0
        ? envelopeErrors
        : validator.checkSemantics(request.body as AuditEnvelope).errors;
    if (errors.length > 0) return reply.code(400).send({ errors });
    return reply
      .code(202)
      .send({ status: 'accepted', receivedAt: new Date().toISOString(), outcome: 'processed' });
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

/** `parquet:<exportDirectory>` or `influxdb-v1:<port>:<database>`. */
function destinationFrom(spec: string): Record<string, unknown> {
  const [type, first, second] = spec.split(':');
  if (type === 'influxdb-v1') {
    return {
      type: 'influxdb',
      influxdb: {
        host: '127.0.0.1',
        port: Number(first),
        version: 1,
        maxBatchSize: 1000,
        writeFrequency: 1000,
        v1Config: { dbName: second },
      },
    };
  }
  return { type: 'parquet', parquet: { exportDirectory: first } };
}

/** With a journal directory, the durable journal (fsync batch); without, the in-memory log. */
async function serveModule(destinationSpec: string, journalDirectory?: string): Promise<number> {
  const validation = validateAuditEventsConfig({
    port: 0,
    rateLimit: { enable: false },
    queue: { maxSize: 200000 },
    journal: journalDirectory
      ? { enable: true, directory: journalDirectory, fsync: 'batch' }
      : { enable: false },
    destination: destinationFrom(destinationSpec),
  });
  if (!validation.ok) throw new Error(validation.problems.join('\n'));
  const module = createAuditModule(validation.config, { logger: createSilentLogger(), version: 'bench' });
  const address = await module.start();
  process.on('SIGTERM', () => void module.stop().then(() => process.exit(0)));
  return address?.port ?? 0;
}

const [mode, destinationSpec, journalDirectory] = process.argv.slice(2);
const port = mode === 'ceiling' ? await serveCeiling() : await serveModule(destinationSpec, journalDirectory);
process.stdout.write(`listening ${port}\n`);
