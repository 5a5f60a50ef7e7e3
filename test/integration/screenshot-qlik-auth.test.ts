/**
 * The ticket modes against a Qlik proxy stand-in over real HTTPS (test/support/qlik-proxy.ts):
 * a Qlik Proxy Service that only talks to clients whose certificate its CA signed and issues
 * one-time tickets, and a proxy that turns a ticket into a session cookie. What is asserted is
 * what the stand-in saw: tickets, the certificate they were asked with, sessions opened and
 * ended, and the files saved.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { createScreenshotSaver, type ScreenshotSaver } from '../../src/lib/audit-screenshots/index.js';
import { createSilentLogger } from '../../src/lib/logger.js';
import { eventually } from '../support/eventually.js';
import { tempDir } from '../support/module-process.js';
import { startQlikStandIn, type QlikStandIn } from '../support/qlik-proxy.js';
import { codedPng, screenshotRequest, screenshotsConfig } from '../support/screenshots.js';
import { createLocalhostCertificate } from '../support/tls.js';

const IMAGE_PATH = '/tempcontent/6f0c3a9e-2b1d-4c8f-9e7a-1d2b3c4d5e6f/JpXkTr.png';

describe('screenshot download with Qlik tickets', function () {
  this.timeout(30000);
  let qlik: QlikStandIn;
  let png: Buffer;
  let savers: ScreenshotSaver[] = [];

  before(async () => {
    qlik = await startQlikStandIn(tempDir('qlik-certs'));
    png = await codedPng(80, 60);
    qlik.publish(IMAGE_PATH, png);
    qlik.publish('/audit/tempcontent/app/obj.png', png);
    qlik.publish('/hub/stream/1.png', png);
  });

  after(async () => {
    await qlik.close();
  });

  beforeEach(() => {
    qlik.tickets.length = 0;
    qlik.deletedSessions.length = 0;
    qlik.proxyRequests.length = 0;
  });

  afterEach(async () => {
    await Promise.all(savers.map((saver) => saver.close()));
    savers = [];
  });

  async function saverWith(auth: Record<string, unknown>) {
    const root = tempDir('qlik-shots');
    const saver = await createScreenshotSaver(
      screenshotsConfig({
        allowedImageDownloadHosts: ['127.0.0.1'],
        storageTargets: [{ enable: true, directory: 'shots' }],
        downloadTimeoutMs: 3000,
        auth: {
          tls: { ...qlik.clientTls },
          ...auth,
          qps: { host: '127.0.0.1', port: qlik.qpsPort, ...(auth.qps as object) },
        },
      }),
      { logger: createSilentLogger(), baseDir: root },
    );
    savers.push(saver);
    return { saver, root };
  }

  it('qpsTicket: a ticket for the service user over mutual TLS, appended as qlikTicket, its session ended after', async () => {
    const { saver } = await saverWith({
      mode: 'qpsTicket',
      qps: { userDirectory: 'INTERNAL', userId: 'sa_audit' },
    });
    const outcome = await saver.save(screenshotRequest(qlik.imageUrl(`${IMAGE_PATH}?serverNodeId=9d1f`)));
    if (!outcome.saved) throw new Error(outcome.reason);
    expect(readFileSync(outcome.savedPaths[0]).equals(png)).to.equal(true);
    expect(qlik.tickets).to.deep.equal([
      {
        virtualProxy: '',
        userDirectory: 'INTERNAL',
        userId: 'sa_audit',
        clientCertificate: 'audit-qs-client',
      },
    ]);
    const [ticketed, withSession] = qlik.proxyRequests;
    expect(qlik.proxyRequests).to.have.length(2);
    expect(ticketed).to.deep.include({ path: IMAGE_PATH, withTicket: true, session: null });
    expect(withSession.withTicket).to.equal(false);
    expect(withSession.session).to.be.a('string');
    await eventually(
      async () => (qlik.deletedSessions.length === 1 ? true : undefined),
      5000,
      'the session ended',
    );
    expect(qlik.deletedSessions).to.deep.equal([withSession.session]);
    expect(qlik.sessions().size).to.equal(0);
  });

  it('qpsTicket: a client certificate the Qlik CA did not sign gets no ticket and no image', async () => {
    const dir = tempDir('rogue-cert');
    const rogue = createLocalhostCertificate(dir, 'rogue');
    const { saver } = await saverWith({
      mode: 'qpsTicket',
      tls: { certFile: rogue.certFile, keyFile: rogue.keyFile, caFile: qlik.clientTls.caFile },
      qps: { userDirectory: 'INTERNAL', userId: 'sa_audit' },
    });
    const outcome = await saver.save(screenshotRequest(qlik.imageUrl(IMAGE_PATH)));
    expect(outcome.saved).to.equal(false);
    expect(!outcome.saved && outcome.reason).to.match(
      /^the Qlik Proxy Service gave no ticket: .+ \(3 attempts\)$/,
    );
    expect(qlik.tickets).to.deep.equal([]);
    expect(qlik.proxyRequests).to.deep.equal([]);
  });

  it('qpsTicket: a QPS whose certificate is not trusted (no caFile) is not retried (no "3 attempts"), and the reason names caFile', async () => {
    const { saver } = await saverWith({
      mode: 'qpsTicket',
      tls: { certFile: qlik.clientTls.certFile, keyFile: qlik.clientTls.keyFile },
      qps: { userDirectory: 'INTERNAL', userId: 'sa_audit' },
    });
    const outcome = await saver.save(screenshotRequest(qlik.imageUrl(IMAGE_PATH)));
    expect(outcome).to.deep.equal({
      saved: false,
      reason:
        "the Qlik Proxy Service gave no ticket: the server's TLS certificate is not trusted " +
        '(SELF_SIGNED_CERT_IN_CHAIN: self-signed certificate in certificate chain); trust the CA that signed it: ' +
        'auth.tls.caFile (the Qlik root.pem), or NODE_EXTRA_CA_CERTS for the whole process',
    });
    expect(qlik.tickets).to.deep.equal([]);
  });

  it('userTicket: a ticket for the event’s own user, only for /tempcontent/ paths', async () => {
    const { saver } = await saverWith({ mode: 'userTicket', qps: { virtualProxy: 'audit' } });
    const user = { userDirectory: 'CORP', userId: 'anna.lindqvist' };
    expect(
      (await saver.save(screenshotRequest(qlik.imageUrl(IMAGE_PATH), { identity: user }))).saved,
    ).to.equal(true);
    expect(
      (
        await saver.save(
          screenshotRequest(qlik.imageUrl('/audit/tempcontent/app/obj.png'), {
            eventId: 'vp',
            identity: user,
          }),
        )
      ).saved,
    ).to.equal(true);
    expect(
      qlik.tickets.map((ticket) => [ticket.virtualProxy, ticket.userDirectory, ticket.userId]),
    ).to.deep.equal([
      ['', 'CORP', 'anna.lindqvist'],
      ['audit', 'CORP', 'anna.lindqvist'],
    ]);

    const refused = [];
    for (const imagePath of [
      '/hub/stream/1.png',
      '/other/tempcontent/app/obj.png',
      '/tempcontent/..%2fqrs/app',
      '/tempcontent/%2e%2e/qrs/app',
    ]) {
      const outcome = await saver.save(
        screenshotRequest(qlik.imageUrl(imagePath), { eventId: imagePath, identity: user }),
      );
      refused.push(outcome.saved ? 'saved' : outcome.reason);
    }
    expect(refused).to.deep.equal([
      "auth.mode userTicket fetches only /tempcontent/ paths (or /audit/tempcontent/), not '/hub/stream/1.png'",
      "auth.mode userTicket fetches only /tempcontent/ paths (or /audit/tempcontent/), not '/other/tempcontent/app/obj.png'",
      "auth.mode userTicket fetches only /tempcontent/ paths (or /audit/tempcontent/), not '/tempcontent/..%2fqrs/app'",
      // The URL parser resolves %2e%2e as '..' before anything is checked.
      "auth.mode userTicket fetches only /tempcontent/ paths (or /audit/tempcontent/), not '/qrs/app'",
    ]);
    expect(qlik.tickets).to.have.length(2); // nothing asked for the refused paths
    expect(
      await saver.save(screenshotRequest(qlik.imageUrl(IMAGE_PATH), { eventId: 'nobody', identity: null })),
    ).to.deep.equal({
      saved: false,
      reason: 'auth.mode userTicket needs the event to name its user as DIRECTORY\\user',
    });
  });

  it('session cache: one ticket for several images, a new one when the session ended, sessions ended on close', async () => {
    const { saver } = await saverWith({
      mode: 'qpsTicket',
      qps: { userDirectory: 'INTERNAL', userId: 'sa_audit' },
      sessionCache: { enable: true, maxEntries: 10, ttlSeconds: 60 },
    });
    const save = (eventId: string) => saver.save(screenshotRequest(qlik.imageUrl(IMAGE_PATH), { eventId }));
    expect((await save('one')).saved).to.equal(true);
    expect((await save('two')).saved).to.equal(true);
    expect(qlik.tickets).to.have.length(1);
    const [first] = [...qlik.sessions().keys()];
    expect(qlik.proxyRequests.at(-1)).to.deep.equal({ path: IMAGE_PATH, withTicket: false, session: first });

    qlik.expireSession(first); // Qlik's session timeout
    expect((await save('three')).saved).to.equal(true);
    expect(qlik.tickets).to.have.length(2);
    const [second] = [...qlik.sessions().keys()];
    expect(second).to.not.equal(first);

    await saver.close();
    savers = [];
    expect(qlik.deletedSessions).to.deep.equal([second]);
    expect(qlik.sessions().size).to.equal(0);
  });

  it('session cache: a session evicted by maxEntries is ended at once', async () => {
    const { saver } = await saverWith({ mode: 'userTicket', sessionCache: { enable: true, maxEntries: 1 } });
    const anna = { userDirectory: 'CORP', userId: 'anna' };
    const bo = { userDirectory: 'CORP', userId: 'bo' };
    await saver.save(screenshotRequest(qlik.imageUrl(IMAGE_PATH), { eventId: 'a', identity: anna }));
    const [annas] = [...qlik.sessions().keys()];
    await saver.save(screenshotRequest(qlik.imageUrl(IMAGE_PATH), { eventId: 'b', identity: bo }));
    await eventually(
      async () => (qlik.deletedSessions.length === 1 ? true : undefined),
      5000,
      'the evicted session ended',
    );
    expect(qlik.deletedSessions).to.deep.equal([annas]);
    expect([...qlik.sessions().values()]).to.deep.equal(['CORP\\bo']);
  });

  it('stops with a clear error when a certificate file cannot be read', async () => {
    const missing = path.join(tempDir('no-cert'), 'client.pem');
    let error: unknown;
    try {
      await createScreenshotSaver(
        screenshotsConfig({
          auth: {
            mode: 'qpsTicket',
            qps: { host: 'qps', userDirectory: 'D', userId: 'u' },
            tls: { certFile: missing, keyFile: missing },
          },
        }),
        { logger: createSilentLogger(), baseDir: '/' },
      );
    } catch (caught) {
      error = caught;
    }
    expect((error as Error).message).to.match(
      new RegExp(`^cannot read destination\\.screenshots\\.auth\\.tls\\.certFile '${missing}': ENOENT`),
    );
  });
});
