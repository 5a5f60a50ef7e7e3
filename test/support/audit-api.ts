/** The module's HTTP API as a client sees it: post an event, read the health of the destinations. */
import type { AuditEnvelope } from '../../src/lib/audit-events/types.js';
import type { DeliveryStatus as DestinationStatus } from '../../src/lib/delivery/delivery-loop.js';

/** Posts one envelope and returns the status; the body is read so that no socket is left waiting. */
export async function postAuditEvent(baseUrl: string, envelope: AuditEnvelope): Promise<number> {
  const response = await fetch(`${baseUrl}/api/v1/audit-event`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(envelope),
  });
  await response.arrayBuffer();
  return response.status;
}

/** One destination's status from GET /api/v1/health (answered 200 or 503, both with the statuses). */
export async function destinationHealth(baseUrl: string, id: string): Promise<DestinationStatus> {
  const response = await fetch(`${baseUrl}/api/v1/health`);
  const body = (await response.json()) as { destinations: DestinationStatus[] };
  const status = body.destinations.find((destination) => destination.id === id);
  if (!status) throw new Error(`no destination '${id}' in /api/v1/health`);
  return status;
}
