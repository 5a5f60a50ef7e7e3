import { crc32 } from 'node:zlib';
import { expect } from 'chai';
import {
  HEADER_BYTES,
  decodePayload,
  decodeRecordAt,
  encodePayload,
  encodeRecord,
} from '../../src/lib/audit-journal/record-format.js';
import { freshEnvelope } from '../support/fixtures.js';

function decodeOne(buffer: Buffer, offset = 0) {
  const result = decodeRecordAt(buffer, offset);
  if (result.kind !== 'record') throw new Error(`expected a record, got ${JSON.stringify(result)}`);
  return result.record;
}

describe('journal record format', () => {
  it('round-trips sequence number and envelope, record after record', () => {
    const envelopes = [freshEnvelope('navigation.sheet.loaded'), freshEnvelope('selection.state.changed')];
    envelopes[1].payload = { ...envelopes[1].payload, note: 'ünïcødé ✓ "quotes" \n newline' };
    const seqs = [1, Number.MAX_SAFE_INTEGER];
    const buffer = Buffer.concat(
      envelopes.map((envelope, index) => encodeRecord(seqs[index], encodePayload(envelope))),
    );

    const first = decodeOne(buffer);
    const second = decodeOne(buffer, first.size);
    expect([first.seq, second.seq]).to.deep.equal(seqs);
    expect([decodePayload(first.payload), decodePayload(second.payload)]).to.deep.equal(
      envelopes.map((envelope) => ({ envelope })),
    );
    expect(first.size + second.size).to.equal(buffer.length);
  });

  it('marks an event replayed for some destinations only, in a way no posted envelope can take', () => {
    const envelope = freshEnvelope('object.view.duration');
    expect(decodePayload(encodePayload(envelope, ['influxdb']))).to.deep.equal({
      envelope,
      destinations: ['influxdb'],
    });
    // Whatever a client posts is an object: its JSON starts with '{', never with the replay mark.
    const posted = { ...envelope, destinations: ['influxdb'], envelope: {} };
    expect(decodePayload(encodePayload(posted))).to.deep.equal({ envelope: posted });
  });

  it('lays the header out as length, seq, CRC', () => {
    const payload = Buffer.from('{"a":1}');
    const record = encodeRecord(7, payload);
    expect(record.length).to.equal(HEADER_BYTES + payload.length);
    expect(record.readUInt32LE(0)).to.equal(payload.length);
    expect(record.readBigUInt64LE(4)).to.equal(7n);
    // zlib's CRC32 of the 8 sequence bytes followed by the payload.
    const seqBytes = Buffer.alloc(8);
    seqBytes.writeBigUInt64LE(7n);
    expect(record.readUInt32LE(12)).to.equal(crc32(Buffer.concat([seqBytes, payload])));
    expect(record.subarray(HEADER_BYTES).equals(payload)).to.equal(true);
  });

  it('detects a flipped bit in every byte of a record', () => {
    const record = encodeRecord(42, encodePayload(freshEnvelope('navigation.sheet.loaded')));
    for (let index = 0; index < record.length; index += 1) {
      const damaged = Buffer.from(record);
      damaged[index] ^= 0x10;
      const result = decodeRecordAt(damaged, 0);
      expect(result.kind, `byte ${index} flipped`).to.not.equal('record');
    }
  });

  it('names a CRC mismatch when the payload changed', () => {
    const record = encodeRecord(3, Buffer.from('{"user":"alice"}'));
    record[HEADER_BYTES + 10] ^= 0x01;
    expect(decodeRecordAt(record, 0)).to.deep.equal({ kind: 'corrupt', reason: 'CRC mismatch' });
  });

  it('reports every cut-off prefix of a record as incomplete, with the size needed once the header is there', () => {
    const record = encodeRecord(9, Buffer.from('{"event":"torn"}'));
    for (let length = 0; length < record.length; length += 1) {
      const result = decodeRecordAt(record.subarray(0, length), 0);
      expect(result.kind, `cut at ${length}`).to.equal('incomplete');
      if (length >= HEADER_BYTES)
        expect(result).to.deep.equal({ kind: 'incomplete', needBytes: record.length });
    }
  });

  it('calls a zero-filled region (a tail the file system extended but never wrote) corrupt, not empty', () => {
    expect(decodeRecordAt(Buffer.alloc(64), 0)).to.deep.equal({
      kind: 'corrupt',
      reason: 'bad record length 0',
    });
  });

  it('calls an absurd length corrupt rather than waiting for bytes that will never come', () => {
    const record = encodeRecord(1, Buffer.from('{}'));
    record.writeUInt32LE(0xffffffff, 0);
    expect(decodeRecordAt(record, 0).kind).to.equal('corrupt');
  });

  it('refuses to encode an empty payload', () => {
    expect(() => encodeRecord(1, Buffer.alloc(0))).to.throw(RangeError);
  });
});
