/**
 * Warnings at most once per interval per kind and origin, with a count, on a fake clock:
 * what is said at once, what is counted, when the count is reported, and that nothing is left
 * running after close.
 */
import { expect } from 'chai';
import sinon from 'sinon';
import { createThrottledWarnings } from '../../src/lib/http/throttled-warnings.js';
import { recordingLogger } from '../support/recording-logger.js';

const MINUTE = 60_000;
const START = Date.parse('2026-10-14T08:15:20.000Z');
const FIRST_SUFFIX = ' (repeats are counted: at most one warning every 60 s)';

describe('throttled warnings (fake clock)', () => {
  let clock: sinon.SinonFakeTimers;
  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: START, toFake: ['Date', 'setTimeout', 'clearTimeout'] });
  });
  afterEach(() => clock.restore());

  it('warns at once, counts the repeats, and reports the count when the minute is over', () => {
    const { logger, lines } = recordingLogger();
    const warnings = createThrottledWarnings(logger);
    warnings.warn('token', 'https://qlik.example.com', 'bad token #1');
    expect(lines).to.deep.equal([`warn: bad token #1${FIRST_SUFFIX}`]);

    clock.tick(10_000);
    warnings.warn('token', 'https://qlik.example.com', 'bad token #2');
    clock.tick(40_000);
    warnings.warn('token', 'https://qlik.example.com', 'bad token #3');
    expect(lines).to.have.length(1);

    clock.tick(MINUTE - 50_000 - 1);
    expect(lines).to.have.length(1);
    clock.tick(1);
    // The latest message, with how many it stands for and since when.
    expect(lines[1]).to.equal('warn: bad token #3 (2 more times since 2026-10-14T08:15:20.000Z)');
    expect(clock.countTimers()).to.equal(1);

    // A quiet minute: nothing to report, the key is forgotten and the next one is said at once.
    clock.tick(MINUTE);
    expect(lines).to.have.length(2);
    expect(clock.countTimers()).to.equal(0);
    warnings.warn('token', 'https://qlik.example.com', 'bad token #4');
    expect(lines[2]).to.equal(`warn: bad token #4${FIRST_SUFFIX}`);
    warnings.close();
  });

  it('keeps a minute per kind and per origin', () => {
    const { logger, lines } = recordingLogger();
    const warnings = createThrottledWarnings(logger);
    warnings.warn('token', 'https://a.example.com', 'token a');
    warnings.warn('token', 'https://b.example.com', 'token b');
    warnings.warn('validation', 'https://a.example.com', 'validation a');
    warnings.warn('token', 'https://a.example.com', 'token a again');
    expect(lines).to.deep.equal([
      `warn: token a${FIRST_SUFFIX}`,
      `warn: token b${FIRST_SUFFIX}`,
      `warn: validation a${FIRST_SUFFIX}`,
    ]);
    clock.tick(MINUTE);
    expect(lines.slice(3)).to.deep.equal([
      'warn: token a again (1 more time since 2026-10-14T08:15:20.000Z)',
    ]);
    warnings.close();
  });

  it('close reports what is pending at once and leaves no timer', () => {
    const { logger, lines } = recordingLogger();
    const warnings = createThrottledWarnings(logger);
    warnings.warn('origin', 'http://elsewhere.example.com', 'preflight refused');
    warnings.warn('origin', 'http://elsewhere.example.com', 'preflight refused');
    warnings.warn('route', 'no Origin header', 'no such route');
    clock.tick(30_000);
    warnings.close();
    expect(lines.slice(2)).to.deep.equal([
      'warn: preflight refused (1 more time since 2026-10-14T08:15:20.000Z)',
    ]);
    expect(clock.countTimers()).to.equal(0);
    clock.tick(10 * MINUTE);
    expect(lines).to.have.length(3);
  });

  it('past 1000 origins in a minute, the rest share one count', () => {
    const { logger, lines } = recordingLogger();
    const warnings = createThrottledWarnings(logger);
    for (let index = 0; index < 1000; index++)
      warnings.warn('origin', `https://o${index}.example`, `o${index}`);
    warnings.warn('origin', 'https://late1.example', 'late1');
    warnings.warn('origin', 'https://late2.example', 'late2');
    warnings.warn('origin', 'https://late3.example', 'late3');
    expect(lines).to.have.length(1001);
    expect(lines[1000]).to.equal(`warn: late1 [counted with other origins]${FIRST_SUFFIX}`);
    expect(clock.countTimers()).to.equal(1001);
    clock.tick(MINUTE);
    expect(lines.slice(1001)).to.deep.equal([
      'warn: late3 [counted with other origins] (2 more times since 2026-10-14T08:15:20.000Z)',
    ]);
    warnings.close();
  });
});
