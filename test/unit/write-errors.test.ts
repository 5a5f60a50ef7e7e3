/** What the InfluxDB writers keep of a server's error message. */
import { expect } from 'chai';
import { serverMessageFromBody } from '../../src/lib/audit-destinations/influxdb/write-errors.js';

describe('serverMessageFromBody', () => {
  it('keeps the reason InfluxDB puts after a long quoted line (found by the ingest property test)', () => {
    // influxd 1.x: `unable to parse '<line>': <reason>`; with a 200 KB tag the reason came last and was cut.
    const line = `audit_event,eventType=${'x'.repeat(200_000)} eventId="e1" 1`;
    const reason = 'max key length exceeded: 200042 > 65535';
    const message = serverMessageFromBody(JSON.stringify({ error: `unable to parse '${line}': ${reason}` }));
    expect(message).to.match(/^unable to parse 'audit_event,eventType=x+/);
    expect(message?.endsWith(reason)).to.equal(true);
    expect(message?.length).to.be.at.most(4097);
  });

  it('keeps a short message whole', () => {
    expect(serverMessageFromBody('{"error":"field type conflict"}')).to.equal('field type conflict');
  });
});
