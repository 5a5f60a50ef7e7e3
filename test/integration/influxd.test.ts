/**
 * The test harness's own influxd (test/support/influxd.ts) against the real Debian influxd
 * 1.6.7, and the facts about 1.6.7 that docs/influxdb.md relies on, observed by direct writes.
 */
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { startInfluxd, type InfluxdServer } from '../support/influxd.js';

describe('influxd 1.6.7 test server', function () {
  let server: InfluxdServer;

  before(async function () {
    server = await startInfluxd();
    await server.ddl('CREATE DATABASE "harness"');
  });

  after(async function () {
    await server?.stop();
  });

  it('runs its own process on a free port with its generated config, never on 8086', async function () {
    expect(server.port).to.not.equal(8086);
    expect(server.url).to.equal(`http://127.0.0.1:${server.port}`);
    const commandLine = readFileSync(`/proc/${server.pid}/cmdline`, 'utf8').split('\0');
    expect(commandLine[0]).to.equal('/usr/bin/influxd');
    expect(commandLine[2]).to.satisfy((file: string) => file.startsWith(server.dataDir));
    expect((await fetch(`${server.url}/ping`)).status).to.equal(204);
  });

  it('writes line protocol and queries it back, timestamps exact to the nanosecond', async function () {
    const outcome = await server.write(
      'harness',
      'exact,host=a big=9007199254740993i,text="hi" 1700000000123456789',
    );
    expect(outcome).to.deep.equal({ status: 204 });

    const [asText] = await server.query('harness', 'SELECT * FROM "exact"');
    expect(asText).to.deep.equal({
      time: '2023-11-14T22:13:20.123456789Z',
      big: 9007199254740993n,
      host: 'a',
      text: 'hi',
    });
    const [asEpoch] = await server.query('harness', 'SELECT * FROM "exact"', { epoch: 'ns' });
    expect(asEpoch.time).to.equal(1700000000123456789n);
  });

  it('merges GROUP BY tags into the rows and reports statement errors by throwing', async function () {
    await server.write('harness', 'grouped,host=a v=1 1\ngrouped,host=b v=2 2');
    const rows = await server.query('harness', 'SELECT sum("v") FROM "grouped" GROUP BY "host"');
    expect(rows.map(({ host, sum }) => ({ host, sum }))).to.deep.equal([
      { host: 'a', sum: 1 },
      { host: 'b', sum: 2 },
    ]);
    let error: Error | undefined;
    await server.query('no_such_db', 'SELECT * FROM "x"').catch((caught: Error) => (error = caught));
    expect(error?.message).to.include('database not found: no_such_db');
  });

  it('stops answering while paused and answers again after resume', async function () {
    await server.pause();
    try {
      const paused = await fetch(`${server.url}/ping`, { signal: AbortSignal.timeout(300) }).catch(
        (error: Error) => error,
      );
      expect(paused).to.be.instanceOf(Error);
    } finally {
      server.resume();
    }
    expect((await fetch(`${server.url}/ping`)).status).to.equal(204);
  });

  it('restarts on the same port and data dir, keeping the data', async function () {
    await server.write('harness', 'durable v=42 1', 's');
    const { pid, port, dataDir } = server;

    await server.restart();

    expect(server.pid).to.not.equal(pid);
    expect([server.port, server.dataDir]).to.deep.equal([port, dataDir]);
    expect(await server.query('harness', 'SELECT "v" FROM "durable"')).to.deep.equal([
      { time: '1970-01-01T00:00:01Z', v: 42 },
    ]);
  });

  it('stop() kills the process, waits for it, and removes the data dir', async function () {
    const doomed = await startInfluxd();
    const { pid, dataDir } = doomed;

    await doomed.stop();

    expect(() => process.kill(pid, 0))
      .to.throw()
      .with.property('code', 'ESRCH');
    expect(existsSync(dataDir)).to.equal(false);
  });

  it('with authEnabled, the helpers authenticate and anonymous requests get 401', async function () {
    const secured = await startInfluxd({ authEnabled: true });
    try {
      await secured.ddl('CREATE DATABASE "private"');
      expect(await secured.write('private', 'm v=1 1')).to.deep.equal({ status: 204 });
      expect(await secured.query('private', 'SELECT "v" FROM "m"')).to.have.length(1);
      const anonymous = await fetch(`${secured.url}/query?q=SHOW+DATABASES`);
      expect(anonymous.status).to.equal(401);
    } finally {
      await secured.stop();
    }
  });

  it('names the install script when the binary is missing', async function () {
    let error: Error | undefined;
    await startInfluxd({ binary: '/nonexistent/influxd' }).catch((caught: Error) => (error = caught));
    expect(error?.message).to.include('bash scripts/ensure-influxd.sh').and.include('root');
  });

  describe('facts about influxd 1.6.7 that docs/influxdb.md relies on (direct writes, no client library)', function () {
    before(async function () {
      await server.ddl('CREATE DATABASE "facts"');
    });

    // Observed on 1.6.7: `unable to parse 'm,t=abc\ f=1 1': invalid tag format`, whether the
    // trailing backslash is bare, escaped (`\\`) or doubled twice (`\\\\`): no escaping lets a
    // tag value end in a backslash.
    it('refuses a tag value ending in a backslash, however it is escaped (invalid tag format)', async function () {
      for (const tagValue of ['abc\\', 'abc\\\\', 'abc\\\\\\\\']) {
        const line = `backslash,t=${tagValue} f=1 1`;
        const outcome = await server.write('facts', line);
        expect(outcome).to.deep.equal({
          status: 400,
          error: `unable to parse '${line}': invalid tag format`,
        });
      }
    });

    // Observed on 1.6.7: inside a tag value only `\,` `\=` `\ ` are unescaped; `\\` is stored as
    // two backslashes and a lone `\` before another character is kept as is.
    it('stores a backslash inside a tag value literally and does not unescape a double backslash', async function () {
      await server.write('facts', 'inner,t=a\\b f=1 1\ninner,t=c\\\\d f=1 2');
      const rows = await server.query('facts', 'SELECT * FROM "inner"');
      expect(rows.map((row) => row.t)).to.deep.equal(['a\\b', 'c\\\\d']);
    });

    // Observed on 1.6.7: `/write` does not validate `precision`; an unknown value such as `us`
    // (valid on 1.8+/2.x) is silently read as nanoseconds. A 1.x writer must send `u`.
    it('reads precision=us as nanoseconds (only `u` means microseconds)', async function () {
      await server.write('facts', 'precision,via=us f=1 5', 'us');
      await server.write('facts', 'precision,via=u f=1 5', 'u');
      const rows = await server.query('facts', 'SELECT * FROM "precision"');
      expect(rows.map(({ time, via }) => ({ time, via }))).to.deep.equal([
        { time: '1970-01-01T00:00:00.000000005Z', via: 'us' },
        { time: '1970-01-01T00:00:00.000005Z', via: 'u' },
      ]);
    });

    // influxd's default is max-values-per-tag = 100000, so the 100,001st distinct value of a tag
    // is refused. Shown with maxValuesPerTag: 10 to stay fast; the check is the same code path.
    // Observed on 1.6.7: the limit is compared with the count *before* a write, so one batch can
    // go past it; after that every new value is refused with
    // `partial write: max-values-per-tag limit exceeded (10/10): measurement="cardinality" tag="t" value="v10" dropped=1`,
    // while points with existing values are still accepted.
    it('refuses the first distinct tag value beyond max-values-per-tag (shown with a limit of 10)', async function () {
      const limited = await startInfluxd({ maxValuesPerTag: 10 });
      try {
        await limited.ddl('CREATE DATABASE "facts"');
        for (let value = 0; value < 10; value++) {
          expect(await limited.write('facts', `cardinality,t=v${value} f=1 ${value}`)).to.deep.equal({
            status: 204,
          });
        }
        expect(await limited.write('facts', 'cardinality,t=v10 f=1 10')).to.deep.equal({
          status: 400,
          error:
            'partial write: max-values-per-tag limit exceeded (10/10): measurement="cardinality" tag="t" value="v10" dropped=1',
        });
        expect(await limited.write('facts', 'cardinality,t=v3 f=2 11')).to.deep.equal({ status: 204 });

        const batch = Array.from({ length: 12 }, (_, value) => `batch,t=v${value} f=1 ${value}`).join('\n');
        expect(await limited.write('facts', batch)).to.deep.equal({ status: 204 });
        const [{ count }] = await limited.query('facts', 'SELECT count("f") FROM "batch"');
        expect(count).to.equal(12);
      } finally {
        await limited.stop();
      }
    });
  });
});
