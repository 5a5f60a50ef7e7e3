/**
 * The pure parts of the screenshot saver: the settings as validated, the file names, the
 * allow-list, and the row arithmetic of the crop.
 */
import { expect } from 'chai';
import {
  keepRows,
  originalRow,
  removeRows,
  scrollComposite,
  standardCrop,
  wholePixels,
} from '../../src/lib/audit-screenshots/crop-geometry.js';
import { noAnswerFailure } from '../../src/lib/audit-screenshots/failure.js';
import { fileNameId, screenshotBaseName } from '../../src/lib/audit-screenshots/file-names.js';
import { userTicketVirtualProxy } from '../../src/lib/audit-screenshots/image-source.js';
import { HostAllowList } from '../../src/lib/audit-screenshots/url-policy.js';
import { validateAuditEventsConfig } from '../../src/lib/config/validate.js';
import { validConfig } from '../support/config.js';

function problemsOf(screenshots: Record<string, unknown>): string[] {
  const result = validateAuditEventsConfig({ destination: { screenshots } });
  return result.ok ? [] : result.problems;
}

describe('screenshot settings', () => {
  it("takes Butler SOS 15's keys and defaults", () => {
    expect(validConfig({}).destination.screenshots).to.deep.equal({
      enable: false,
      allowedImageDownloadHosts: [],
      downloadTimeoutMs: 15000,
      maxBytes: 10485760,
      storageTargets: [],
      auth: {
        mode: 'none',
        qps: { port: 4243, virtualProxy: '', ticketTimeoutMs: 5000 },
        sessionCache: { enable: false, maxEntries: 100, ttlSeconds: 120 },
      },
      addInImageMetadata: {
        enable: false,
        fields: {
          date: false,
          eventId: false,
          correlationId: false,
          selectionTxnId: false,
          user: false,
          appId: false,
          appName: false,
          sheetName: false,
          viewingDuration: false,
        },
      },
    });
  });

  it('accepts null lists, as Butler SOS writes them', () => {
    expect(problemsOf({ enable: true, allowedImageDownloadHosts: null, storageTargets: null })).to.deep.equal(
      [],
    );
  });

  it('says what a ticket mode lacks, and refuses unknown keys', () => {
    const key = 'Butler-SOS.auditEvents.destination.screenshots';
    expect(
      problemsOf({ auth: { mode: 'qpsTicket', qps: { host: 'qlik' } }, storageTarget: [] }),
    ).to.deep.equal([
      `${key}.storageTarget: unknown key; allowed here: enable, allowedImageDownloadHosts, downloadTimeoutMs, maxBytes, storageTargets, auth, addInImageMetadata`,
      `${key}.auth.tls: missing; it is required here`,
      `${key}.auth.qps.userDirectory: missing; it is required here`,
      `${key}.auth.qps.userId: missing; it is required here`,
    ]);
    expect(problemsOf({ auth: { mode: 'userTicket', qps: { virtualProxy: 'a/b' } } })).to.deep.equal([
      `${key}.auth.tls: missing; it is required here`,
      `${key}.auth.qps.host: missing; it is required here`,
      `${key}.auth.qps.virtualProxy: is 'a/b', must be a virtual proxy prefix without slashes, or '' for the default one`,
    ]);
    expect(problemsOf({ storageTargets: [{ enable: true, type: 's3', directory: 'x' }] })).to.deep.equal([
      `${key}.storageTargets.0.type: is 's3'; allowed: 'flat'`,
    ]);
  });
});

describe('screenshot file names', () => {
  it('is <UTC time>_<eventId>_<correlationId>', () => {
    const time = Date.parse('2026-01-02T03:04:05.006+02:00');
    expect(screenshotBaseName(time, 'E-1', 'c.2')).to.equal('20260102T010405.006Z_E-1_c.2');
    expect(screenshotBaseName(time, 'E', null)).to.equal('20260102T010405.006Z_E_none');
  });

  it('replaces every character outside [A-Za-z0-9._-] and cuts at 128 characters', () => {
    expect(fileNameId('../a/b\\c\u0000d e:f%2F')).to.equal('.._a_b_c_d_e_f_2F');
    expect(fileNameId('😀x')).to.equal('_x'); // one character, one _
    expect(fileNameId('a'.repeat(200))).to.have.length(128);
    expect(fileNameId('')).to.equal('none');
  });
});

describe('screenshot download failures without an answer', () => {
  /** An error as undici's request() rejects with: the socket's own, with its code. */
  function socketError(code: string, message: string): Error {
    return Object.assign(new Error(message), { code });
  }

  it('fails at once on a certificate, with the fix its verdict calls for', () => {
    const cases: [string, string, RegExp][] = [
      [
        'SELF_SIGNED_CERT_IN_CHAIN',
        'self-signed certificate in certificate chain',
        /trust the CA that signed it: auth\.tls\.caFile/,
      ],
      [
        'ERR_TLS_CERT_ALTNAME_INVALID',
        "Hostname/IP does not match certificate's altnames",
        /does not name the host in the URL/,
      ],
      ['CERT_HAS_EXPIRED', 'certificate has expired', /give the server a valid certificate$/],
    ];
    for (const [code, message, fix] of cases) {
      const failure = noAnswerFailure(socketError(code, message));
      expect(failure.retryable, code).to.equal(false);
      expect(failure.reason).to.match(
        new RegExp(`^the server's TLS certificate is not trusted \\(${code}: `),
      );
      expect(failure.reason).to.match(fix);
    }
  });

  it('tries again after a refused or dropped connection', () => {
    const failure = noAnswerFailure(socketError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:9'));
    expect(failure).to.include({
      retryable: true,
      reason: 'network error: connect ECONNREFUSED 127.0.0.1:9',
    });
    expect(noAnswerFailure(socketError('UND_ERR_SOCKET', 'other side closed'))).to.include({
      retryable: true,
      reason: 'network error: UND_ERR_SOCKET: other side closed',
    });
  });
});

describe('screenshot allow-list', () => {
  const check = (list: string[] | null, url: string) => {
    try {
      new HostAllowList(list).check(new URL(url));
      return 'allowed';
    } catch (error) {
      return (error as Error).message;
    }
  };

  it('matches host names exactly and case-insensitively, IDN and IPv6 as URLs write them', () => {
    expect(check(['Qlik.Example'], 'https://QLIK.example:8443/x.png')).to.equal('allowed');
    expect(check(['qlik.example'], 'https://qlik.example.evil.com/x.png')).to.equal(
      "host 'qlik.example.evil.com' is not in allowedImageDownloadHosts",
    );
    expect(check(['bücher.example'], 'https://BÜCHER.example/x.png')).to.equal('allowed');
    expect(check(['::1'], 'http://[::1]:80/x.png')).to.equal('allowed');
    expect(check(['qlik.example:443'], 'https://qlik.example/x.png')).to.equal(
      "host 'qlik.example' is not in allowedImageDownloadHosts",
    );
  });

  it('allows nothing when empty, and only http and https', () => {
    expect(new HostAllowList(null).isEmpty).to.equal(true);
    expect(check(['qlik.example'], 'ftp://qlik.example/x.png')).to.equal(
      "the URL scheme 'ftp:' is not allowed; only http and https are",
    );
  });

  it('lets userTicket open only /tempcontent/ paths', () => {
    const proxyOf = (url: string, virtualProxy = '') => {
      try {
        return userTicketVirtualProxy(new URL(url), virtualProxy);
      } catch (error) {
        return (error as Error).message;
      }
    };
    expect(proxyOf('https://q/tempcontent/a/b.png')).to.equal('');
    expect(proxyOf('https://q/Audit/tempcontent/a/b.png', 'audit')).to.equal('audit');
    expect(proxyOf('https://q/tempcontent/../qrs/about')).to.match(/not '\/qrs\/about'$/);
    expect(proxyOf('https://q/tempcontent/a%2F..%2F..%2Fqrs')).to.match(/^auth.mode userTicket fetches only/);
    expect(proxyOf('https://q/audit/tempcontent/a.png')).to.match(/^auth.mode userTicket fetches only/);
  });
});

describe('crop geometry', () => {
  const crop = (values: Partial<Parameters<typeof wholePixels>[0]>) =>
    wholePixels({ width: 1, height: 1, ...values });

  it('floors every value, and treats a missing one as 0', () => {
    expect(wholePixels({ width: 10.9, height: 5.5, top: 0.99, scrollTop: 2.5 })).to.deep.equal({
      top: 0,
      left: 0,
      width: 10,
      height: 5,
      scrollTop: 2,
      scrollAreaOffsetY: 0,
      renderingOverflow: 0,
    });
  });

  it('keeps and removes rows of a composite, mapping them back to the original', () => {
    const ranges = [
      { start: 0, end: 10 },
      { start: 50, end: 100 },
    ];
    expect(keepRows(ranges, 5, 20)).to.deep.equal([
      { start: 5, end: 10 },
      { start: 50, end: 60 },
    ]);
    expect(removeRows(ranges, 8, 12)).to.deep.equal([
      { start: 0, end: 8 },
      { start: 52, end: 100 },
    ]);
    expect(originalRow(ranges, 10)).to.equal(50);
    expect(() => originalRow(ranges, 60)).to.throw(RangeError);
  });

  it('skips the scroll composite when the scroll reaches past the image', () => {
    expect(scrollComposite(100, crop({ scrollTop: 60, scrollAreaOffsetY: 40 }))).to.deep.equal([
      { start: 0, end: 100 },
    ]);
    expect(scrollComposite(100, crop({ scrollTop: 10, scrollAreaOffsetY: 0 }))).to.deep.equal([
      { start: 10, end: 100 },
    ]);
  });

  it('cuts nothing from an image no larger than the object, or with the object outside it', () => {
    const whole = [{ start: 0, end: 100 }];
    expect(standardCrop(200, whole, crop({ width: 200, height: 100, left: 50 }))).to.equal(null);
    expect(standardCrop(200, whole, crop({ width: 50, height: 50, left: 250 }))).to.equal(null);
    expect(standardCrop(200, whole, crop({ width: 150, height: 80, left: 100, top: 30 }))).to.deep.equal({
      left: 100,
      width: 100,
      rows: [{ start: 30, end: 100 }],
    });
  });
});
