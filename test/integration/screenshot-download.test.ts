/**
 * The screenshot saver against image servers on real sockets (auth.mode none): the allow-list
 * at the first request and at every redirect, the schemes, retries, timeouts, content types,
 * the size limit, the file names and bytes in every target, and a replay that downloads
 * nothing. Servers on 127.0.0.1 and 127.0.0.2 are two hosts: a request to the one not allowed
 * would show in its record.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import sharp from 'sharp';
import { createScreenshotSaver, type ScreenshotSaver } from '../../src/lib/audit-screenshots/index.js';
import { createSilentLogger } from '../../src/lib/logger.js';
import {
  endlessBody,
  failFirst,
  redirectTo,
  serveBytes,
  stallRoute,
  startImageServer,
  type ImageServer,
} from '../support/image-server.js';
import { tempDir } from '../support/module-process.js';
import { recordingLogger } from '../support/recording-logger.js';
import { codedPng, screenshotRequest, screenshotsConfig } from '../support/screenshots.js';
import { createLocalhostCertificate } from '../support/tls.js';

const NAME = '20261014T081523.902Z_5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d_8e41c0d2-5b7f-4a3e-8d19-2c6f4b9a1e77';

describe('screenshot download (auth.mode none)', function () {
  this.timeout(20000);
  let allowed: ImageServer;
  let blocked: ImageServer;
  let png: Buffer;
  let savers: ScreenshotSaver[] = [];

  before(async () => {
    allowed = await startImageServer({ host: '127.0.0.1' });
    blocked = await startImageServer({ host: '127.0.0.2' });
    png = await codedPng(64, 48);
    blocked.route('/image.png', serveBytes(png));
  });

  after(async () => {
    await Promise.all([allowed.close(), blocked.close()]);
  });

  beforeEach(() => {
    allowed.requests.length = 0;
    blocked.requests.length = 0;
  });

  afterEach(async () => {
    await Promise.all(savers.map((saver) => saver.close()));
    savers = [];
  });

  async function saverWith(raw: Record<string, unknown> = {}, logger = createSilentLogger()) {
    const root = tempDir('screenshots');
    const saver = await createScreenshotSaver(
      screenshotsConfig({
        allowedImageDownloadHosts: ['127.0.0.1'],
        storageTargets: [
          { enable: true, directory: 'first' },
          { enable: true, directory: path.join(root, 'second') },
          { enable: false, directory: 'disabled' },
        ],
        downloadTimeoutMs: 2000,
        ...raw,
      }),
      { logger, baseDir: root },
    );
    savers.push(saver);
    return { saver, root };
  }

  it('saves the image to every enabled target under its exact name and bytes, absolute paths in target order', async () => {
    allowed.route('/tempcontent/app/object.png', serveBytes(png));
    const { saver, root } = await saverWith();
    const outcome = await saver.save(
      screenshotRequest(allowed.url('/tempcontent/app/object.png?serverNodeId=9d1f')),
    );
    const expected = [path.join(root, 'first', `${NAME}.png`), path.join(root, 'second', `${NAME}.png`)];
    expect(outcome).to.deep.equal({ saved: true, savedPaths: expected, downloaded: true });
    for (const file of expected) expect(readFileSync(file).equals(png)).to.equal(true);
    expect(readdirSync(root).sort()).to.deep.equal(['first', 'second']); // the disabled target is never made
    expect(readdirSync(path.join(root, 'first'))).to.deep.equal([`${NAME}.png`]); // no temporary file left
  });

  it("removes at start the temporary file of a writer that crashed, and keeps another process's and any other file", async () => {
    const root = tempDir('screenshots');
    const target = path.join(root, 'first');
    mkdirSync(target);
    const dead = `.screenshot.${spawnSync(process.execPath, ['-e', '']).pid}.0a1b2c3d4e5f.tmp`;
    const live = `.screenshot.${process.pid}.0a1b2c3d4e5f.tmp`;
    for (const name of [dead, live, '.notes.tmp', `${NAME}.png`])
      writeFileSync(path.join(target, name), 'partial');
    const { logger, lines } = recordingLogger('info');

    const saver = await createScreenshotSaver(
      screenshotsConfig({
        allowedImageDownloadHosts: ['127.0.0.1'],
        storageTargets: [
          { enable: true, directory: 'first' },
          { enable: true, directory: 'not-made-yet' },
        ],
      }),
      { logger, baseDir: root },
    );
    savers.push(saver);

    expect(readdirSync(target).sort()).to.deep.equal(['.notes.tmp', live, `${NAME}.png`].sort());
    expect(lines).to.deep.equal([
      `info: removed ${path.join(target, dead)}, left over by process ${dead.split('.')[2]} that no longer runs`,
    ]);
  });

  it('finds the files of a replayed event and downloads nothing', async () => {
    allowed.route('/replay.png', serveBytes(png));
    const { saver } = await saverWith();
    const first = await saver.save(screenshotRequest(allowed.url('/replay.png')));
    const again = await saver.save(screenshotRequest(allowed.url('/replay.png')));
    expect(allowed.requests.map((request) => request.url)).to.deep.equal(['/replay.png']);
    expect(again).to.deep.equal({ ...first, downloaded: false });
  });

  it('fills a target that lacks the file from one that holds it, without downloading', async () => {
    allowed.route('/refill.png', serveBytes(png));
    const { saver, root } = await saverWith();
    const first = await saver.save(screenshotRequest(allowed.url('/refill.png')));
    if (!first.saved) throw new Error(first.reason);
    rmSync(path.join(root, 'second'), { recursive: true }); // as a target added since, or lost
    const again = await saver.save(screenshotRequest(allowed.url('/refill.png')));
    expect(again).to.deep.equal({ saved: true, savedPaths: first.savedPaths, downloaded: false });
    expect(readFileSync(first.savedPaths[1]).equals(png)).to.equal(true);
    expect(allowed.requests).to.have.length(1);
  });

  it('never contacts a host that is not on the list', async () => {
    const { saver, root } = await saverWith();
    const outcome = await saver.save(screenshotRequest(blocked.url('/image.png')));
    expect(outcome).to.deep.equal({
      saved: false,
      reason: "host '127.0.0.2' is not in allowedImageDownloadHosts",
    });
    expect(blocked.requests).to.deep.equal([]);
    expect(readdirSync(root)).to.deep.equal([]);
  });

  it('never follows a redirect to a host that is not on the list', async () => {
    allowed.route('/away.png', redirectTo(blocked.url('/image.png')));
    const { saver } = await saverWith();
    const outcome = await saver.save(screenshotRequest(allowed.url('/away.png')));
    expect(outcome).to.deep.equal({
      saved: false,
      reason: "host '127.0.0.2' is not in allowedImageDownloadHosts",
    });
    expect(allowed.requests.map((request) => request.url)).to.deep.equal(['/away.png']);
    expect(blocked.requests).to.deep.equal([]);
  });

  it('follows up to 5 redirects on allowed hosts, and refuses a sixth', async () => {
    for (let hop = 0; hop < 6; hop += 1) allowed.route(`/hop${hop}`, redirectTo(`/hop${hop + 1}`, 307));
    allowed.route('/hop5', serveBytes(png));
    const { saver } = await saverWith();
    const five = await saver.save(screenshotRequest(allowed.url('/hop0'), { eventId: 'five-hops' }));
    expect(five.saved).to.equal(true);
    allowed.route('/hop5', redirectTo('/hop6'));
    allowed.route('/hop6', serveBytes(png));
    const six = await saver.save(screenshotRequest(allowed.url('/hop0'), { eventId: 'six-hops' }));
    expect(six).to.deep.equal({ saved: false, reason: 'more than 5 redirects, the last from 127.0.0.1' });
    expect(allowed.requests.filter((request) => request.url === '/hop6')).to.have.length(0);
  });

  it('compares hosts case-insensitively and exactly', async () => {
    allowed.route('/case.png', serveBytes(png));
    const { saver } = await saverWith({ allowedImageDownloadHosts: ['LOCALHOST'] });
    const url = `http://LocalHost:${allowed.port}/case.png`;
    expect((await saver.save(screenshotRequest(url))).saved).to.equal(true);
    const { saver: strict } = await saverWith({ allowedImageDownloadHosts: ['localhost.'] });
    expect(await strict.save(screenshotRequest(url, { eventId: 'other' }))).to.deep.equal({
      saved: false,
      reason: "host 'localhost' is not in allowedImageDownloadHosts",
    });
  });

  it('refuses data: and file: URLs, and downloads nothing with an empty allow-list', async () => {
    const { saver, root } = await saverWith({ allowedImageDownloadHosts: ['127.0.0.1'] });
    const data = await saver.save(screenshotRequest(`data:image/png;base64,${png.toString('base64')}`));
    expect(data).to.deep.equal({
      saved: false,
      reason: "the URL scheme 'data:' is not allowed; only http and https are",
    });
    const file = await saver.save(screenshotRequest('file:///etc/passwd'));
    expect(file).to.deep.equal({
      saved: false,
      reason: "the URL scheme 'file:' is not allowed; only http and https are",
    });
    expect(readdirSync(root)).to.deep.equal([]);

    allowed.route('/closed.png', serveBytes(png));
    const { saver: closed } = await saverWith({ allowedImageDownloadHosts: null });
    expect(await closed.save(screenshotRequest(allowed.url('/closed.png')))).to.deep.equal({
      saved: false,
      reason: 'allowedImageDownloadHosts is empty, so nothing is downloaded (fail closed)',
    });
    expect(allowed.requests).to.deep.equal([]);
  });

  it('retries 503 with back-off and saves on the third attempt; a 404 is not retried', async () => {
    allowed.route('/flaky.png', failFirst(2, 503, serveBytes(png)));
    allowed.route('/missing.png', failFirst(1, 404, serveBytes(png)));
    const { saver } = await saverWith();
    expect((await saver.save(screenshotRequest(allowed.url('/flaky.png')))).saved).to.equal(true);
    expect(allowed.requests.filter((request) => request.url === '/flaky.png')).to.have.length(3);
    expect(
      await saver.save(screenshotRequest(allowed.url('/missing.png'), { eventId: 'missing' })),
    ).to.deep.equal({
      saved: false,
      reason: '127.0.0.1 answered HTTP 404',
    });
    expect(allowed.requests.filter((request) => request.url === '/missing.png')).to.have.length(1);
  });

  it('does not retry a server whose certificate is not trusted, and names the setting that fixes it', async () => {
    const certificate = createLocalhostCertificate(tempDir('untrusted'), 'untrusted');
    const untrusted = await startImageServer({
      tls: { cert: readFileSync(certificate.certFile), key: readFileSync(certificate.keyFile) },
    });
    try {
      untrusted.route('/shot.png', serveBytes(png));
      const { saver } = await saverWith();
      expect(await saver.save(screenshotRequest(untrusted.url('/shot.png')))).to.deep.equal({
        saved: false,
        reason:
          "the server's TLS certificate is not trusted (DEPTH_ZERO_SELF_SIGNED_CERT: self-signed certificate); " +
          'trust the CA that signed it: auth.tls.caFile (the Qlik root.pem), or NODE_EXTRA_CA_CERTS for the whole process',
      });
      expect(untrusted.connections).to.equal(1);
      expect(untrusted.requests).to.deep.equal([]);
    } finally {
      await untrusted.close();
    }
  });

  it('gives up on a server that stalls after 3 attempts of downloadTimeoutMs each', async () => {
    allowed.route('/stall.png', stallRoute);
    const { saver, root } = await saverWith({ downloadTimeoutMs: 200 });
    const outcome = await saver.save(screenshotRequest(allowed.url('/stall.png')));
    expect(outcome).to.deep.equal({
      saved: false,
      reason: 'no complete answer within downloadTimeoutMs (200 ms) (3 attempts)',
    });
    expect(allowed.requests.filter((request) => request.url === '/stall.png')).to.have.length(3);
    expect(readdirSync(root)).to.deep.equal([]);
  });

  it('refuses an answer that is not an image, whatever it claims', async () => {
    const html = Buffer.from('<html><body>Log in</body></html>');
    const jpeg = await sharp(png).jpeg().toBuffer();
    allowed.route('/page', serveBytes(html, 'text/html; charset=utf-8'));
    allowed.route('/lying.png', serveBytes(html, 'image/png'));
    allowed.route('/jpeg-as-png.png', serveBytes(jpeg, 'image/png'));
    allowed.route('/none.png', (_request, response) => response.writeHead(200).end(png));
    const { saver, root } = await saverWith();
    const reasons = [];
    for (const route of ['/page', '/lying.png', '/jpeg-as-png.png', '/none.png']) {
      const outcome = await saver.save(screenshotRequest(allowed.url(route), { eventId: route }));
      reasons.push(outcome.saved ? 'saved' : outcome.reason);
    }
    expect(reasons).to.deep.equal([
      "127.0.0.1 answered with content type 'text/html', not image/png, image/jpeg, image/webp, image/gif",
      'the answer says content type image/png but holds no image sharp can read',
      'the answer says content type image/png but holds a jpeg image',
      "127.0.0.1 answered with content type 'none', not image/png, image/jpeg, image/webp, image/gif",
    ]);
    expect(readdirSync(root)).to.deep.equal([]);
  });

  it('saves a JPEG as .jpg, uncropped', async () => {
    const jpeg = await sharp(png).jpeg().toBuffer();
    allowed.route('/photo', serveBytes(jpeg, 'image/jpeg'));
    const { saver, root } = await saverWith();
    const outcome = await saver.save(
      screenshotRequest(allowed.url('/photo'), { crop: { top: 0, left: 0, width: 10, height: 10 } }),
    );
    expect(outcome.saved && outcome.savedPaths[0]).to.equal(path.join(root, 'first', `${NAME}.jpg`));
    expect(readFileSync(path.join(root, 'first', `${NAME}.jpg`)).equals(jpeg)).to.equal(true);
  });

  it('stops reading past maxBytes: a body that never ends, and one announced too large', async () => {
    const endless = endlessBody();
    allowed.route('/endless.png', endless.route);
    allowed.route('/large.png', serveBytes(Buffer.concat([png, Buffer.alloc(300 * 1024)])));
    const { saver, root } = await saverWith({ maxBytes: 256 * 1024 });
    // The body never ends: the save could only finish by stopping to read.
    expect(await saver.save(screenshotRequest(allowed.url('/endless.png')))).to.deep.equal({
      saved: false,
      reason: 'the image is larger than maxBytes (262144 bytes); reading stopped',
    });
    expect(
      await saver.save(screenshotRequest(allowed.url('/large.png'), { eventId: 'large' })),
    ).to.deep.equal({
      saved: false,
      reason: `the image is larger than maxBytes (${png.length + 300 * 1024} > 262144 bytes); not read`,
    });
    expect(allowed.requests).to.have.length(2); // not retried
    expect(readdirSync(root)).to.deep.equal([]);
  });

  it('keeps eventId and correlationId from leaving the target: ../, /, \\ and NUL become _', async () => {
    allowed.route('/traversal.png', serveBytes(png));
    const { saver, root } = await saverWith();
    const outcome = await saver.save(
      screenshotRequest(allowed.url('/traversal.png'), {
        eventId: '../../../tmp/evil',
        correlationId: '..\\..\\x/y\u0000z',
      }),
    );
    const name = '20261014T081523.902Z_.._.._.._tmp_evil_.._.._x_y_z.png';
    expect(outcome).to.deep.equal({
      saved: true,
      savedPaths: [path.join(root, 'first', name), path.join(root, 'second', name)],
      downloaded: true,
    });
    expect(readdirSync(root).sort()).to.deep.equal(['first', 'second']);
    expect(readdirSync(path.join(root, 'first'))).to.deep.equal([name]);
  });

  it('cuts each ID to 128 characters and writes none for a missing correlationId', async () => {
    allowed.route('/long.png', serveBytes(png));
    const { saver, root } = await saverWith();
    const outcome = await saver.save(
      screenshotRequest(allowed.url('/long.png'), { eventId: 'é'.repeat(200), correlationId: null }),
    );
    expect(outcome.saved && path.basename(outcome.savedPaths[0])).to.equal(
      `20261014T081523.902Z_${'_'.repeat(128)}_none.png`,
    );
    expect(readdirSync(path.join(root, 'second'))).to.have.length(1);
  });

  it('saves to the targets it can write and names the one it cannot', async () => {
    allowed.route('/partial.png', serveBytes(png));
    const recording = recordingLogger('warn');
    const { saver, root } = await saverWith({}, recording.logger);
    mkdirSync(root, { recursive: true });
    writeFileSync(path.join(root, 'first'), 'a file where a directory should be');
    const outcome = await saver.save(screenshotRequest(allowed.url('/partial.png')));
    expect(outcome).to.deep.equal({
      saved: true,
      savedPaths: [path.join(root, 'second', `${NAME}.png`)],
      downloaded: true,
    });
    expect(recording.lines).to.have.length(1);
    expect(recording.lines[0]).to.match(
      new RegExp(
        `^warn: screenshots: event 5a6b7c8d-\\S+: not written to storage target '${root}/first': EEXIST`,
      ),
    );
  });

  it('says so when no storage target is enabled', async () => {
    const { saver } = await saverWith({ storageTargets: [{ enable: false, directory: 'off' }] });
    expect(await saver.save(screenshotRequest(allowed.url('/x.png')))).to.deep.equal({
      saved: false,
      reason: 'destination.screenshots.storageTargets has no enabled target',
    });
    expect(allowed.requests).to.deep.equal([]);
  });
});
