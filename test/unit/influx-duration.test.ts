import { expect } from 'chai';
import { durationSeconds } from '../../src/lib/audit-destinations/influxdb/init.js';

describe('durationSeconds (InfluxDB duration literals, for v2 bucket retention)', () => {
  const cases: Array<[string, number]> = [
    ['0s', 0],
    ['30d', 30 * 86400],
    ['1w2d', 9 * 86400],
    ['90m', 5400],
    ['1h30m15s', 5415],
    ['1500ms', 1],
    ['999999us', 0],
  ];
  for (const [literal, seconds] of cases) {
    it(`${literal} is ${seconds} s`, () => expect(durationSeconds(literal)).to.equal(seconds));
  }
});
