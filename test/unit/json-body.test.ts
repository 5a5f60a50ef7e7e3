/**
 * The request body parser on values JSON can spell but no destination can store as sent: a
 * lone surrogate (UTF-8 cannot carry it) and a number beyond a double (it parses as Infinity
 * and is written back as null). Found by test/property/ingest-path.test.ts: both were
 * answered 202 and stored changed (U+FFFD, null).
 */
import { expect } from 'chai';
import { createJsonBodyParser, InvalidJsonBodyError } from '../../src/lib/http/json-body.js';

function refusal(text: string): InvalidJsonBodyError {
  try {
    createJsonBodyParser()(Buffer.from(text, 'utf8'));
  } catch (error) {
    expect(error).to.be.instanceOf(InvalidJsonBodyError);
    return error as InvalidJsonBodyError;
  }
  throw new Error(`accepted ${text}`);
}

describe('the JSON body parser: values that cannot be stored as sent', () => {
  const refused: Array<[string, string, string]> = [
    ['{"a":{"b":"x\\ud800"}}', '/a/b', 'lone surrogate'],
    ['{"a":["ok","\\uDC00y"]}', '/a/1', 'lone surrogate'],
    ['{"a":"\\udbff\\udbff\\udfff"}', '/a', 'lone surrogate'],
    ['{"k\\ud800":1}', '/k\ud800', 'lone surrogate'],
    ['{"a/b":{"~":"\\udfff"}}', '/a~1b/~0', 'lone surrogate'],
    ['{"n":1e309}', '/n', 'beyond the range of a double'],
    ['{"n":[-1E+400]}', '/n/0', 'beyond the range of a double'],
    [`{"n":1${'0'.repeat(250)}e99}`, '/n', 'beyond the range of a double'],
  ];
  for (const [text, pointer, problem] of refused) {
    it(`refuses ${text.slice(0, 40)}, naming ${JSON.stringify(pointer)}`, () => {
      const error = refusal(text);
      expect(error.instancePath).to.equal(pointer);
      expect(error.message).to.include(problem).and.to.include(`'${pointer}'`);
    });
  }

  it('accepts surrogate pairs, escaped or not, the largest doubles and text that only looks like an escape', () => {
    const parse = createJsonBodyParser();
    const text =
      '{"a":"\\ud83c\\udf89 🎉","b":"\\\\ud800","c":1.7976931348623157e308,"d":-1e308,"e":1e-400,"f":"1e999"}';
    expect(parse(Buffer.from(text, 'utf8'))).to.deep.equal({
      a: '🎉 🎉',
      b: '\\ud800',
      c: 1.7976931348623157e308,
      d: -1e308,
      e: 0,
      f: '1e999',
    });
  });
});
