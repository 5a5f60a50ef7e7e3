/**
 * How one journal record is laid out on disk, and nothing else:
 *
 *   offset 0   uint32 LE  payload length in bytes (1 .. MAX_PAYLOAD_BYTES)
 *   offset 4   uint64 LE  sequence number
 *   offset 12  uint32 LE  CRC32 (zlib's) of the 8 sequence bytes followed by the payload
 *   offset 16  payload    the envelope as JSON, UTF-8; or, for an event replayed from a
 *                         dead-letter file to some destinations only, the byte 'R' and then
 *                         JSON {"destinations": [...], "envelope": {...}}
 *
 * An envelope's JSON always starts with '{', so a replay can never be forged by what a client
 * posts.
 * The CRC covers the sequence number so that a record copied to the wrong place, or a stale
 * block from an older file, is caught as well as a flipped bit.
 */
import { crc32 } from 'node:zlib';
import type { AuditEnvelope } from '../audit-events/types.js';

export const HEADER_BYTES = 16;
/** Far above any envelope the API accepts; a larger length can only be a damaged header. */
export const MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;

export interface DecodedRecord {
  seq: number;
  payload: Buffer;
  /** Header plus payload: how far the next record starts. */
  size: number;
}

export type DecodeResult =
  | { kind: 'record'; record: DecodedRecord }
  /** The buffer ends inside this record; `needBytes` is its full size once the header is known. */
  | { kind: 'incomplete'; needBytes?: number }
  | { kind: 'corrupt'; reason: string };

/** What a record holds: an accepted envelope, for every destination unless `destinations` says. */
export interface EntryPayload {
  envelope: AuditEnvelope;
  destinations?: readonly string[];
}

const REPLAY_MARK = 0x52; // 'R'

export function encodePayload(envelope: AuditEnvelope, destinations?: readonly string[]): Buffer {
  if (destinations === undefined) return Buffer.from(JSON.stringify(envelope), 'utf8');
  return Buffer.from(`R${JSON.stringify({ destinations, envelope })}`, 'utf8');
}

export function decodePayload(payload: Buffer): EntryPayload {
  if (payload[0] !== REPLAY_MARK) return { envelope: JSON.parse(payload.toString('utf8')) as AuditEnvelope };
  return JSON.parse(payload.subarray(1).toString('utf8')) as EntryPayload;
}

export function encodeRecord(seq: number, payload: Buffer): Buffer {
  if (payload.length === 0 || payload.length > MAX_PAYLOAD_BYTES) {
    throw new RangeError(
      `journal record payload must be 1..${MAX_PAYLOAD_BYTES} bytes, got ${payload.length}`,
    );
  }
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt32LE(payload.length, 0);
  header.writeBigUInt64LE(BigInt(seq), 4);
  header.writeUInt32LE(checksum(header.subarray(4, 12), payload), 12);
  return Buffer.concat([header, payload]);
}

/** Decodes the record starting at `offset`, checking its length and CRC (not its place in a sequence). */
export function decodeRecordAt(buffer: Buffer, offset: number): DecodeResult {
  if (buffer.length - offset < HEADER_BYTES) return { kind: 'incomplete' };
  const length = buffer.readUInt32LE(offset);
  if (length === 0 || length > MAX_PAYLOAD_BYTES)
    return { kind: 'corrupt', reason: `bad record length ${length}` };
  const size = HEADER_BYTES + length;
  if (buffer.length - offset < size) return { kind: 'incomplete', needBytes: size };
  const seqBytes = buffer.subarray(offset + 4, offset + 12);
  const payload = buffer.subarray(offset + HEADER_BYTES, offset + size);
  if (buffer.readUInt32LE(offset + 12) !== checksum(seqBytes, payload))
    return { kind: 'corrupt', reason: 'CRC mismatch' };
  const seq = Number(seqBytes.readBigUInt64LE(0));
  return { kind: 'record', record: { seq, payload, size } };
}

function checksum(seqBytes: Buffer, payload: Buffer): number {
  return crc32(payload, crc32(seqBytes));
}
