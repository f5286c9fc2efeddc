import { describe, expect, it } from 'vitest';
import {
  PEER_CHUNK_HEADER_BYTES,
  PROTOCOL_VERSION,
  encodePeerChunk,
  encodePeerChunkHeader,
  parsePeerMessage,
} from '../src/index.ts';
import { examples } from './examples.ts';

const chunk = examples['peer-chunk'];

describe('the binary peer-chunk encoding', () => {
  it('lays out the documented 32-byte header, little-endian', () => {
    const header = encodePeerChunkHeader(chunk);
    const view = new DataView(header.buffer);
    expect(header.byteLength).toBe(PEER_CHUNK_HEADER_BYTES);
    expect([header[0], header[1], header[2], header[3]]).toEqual([0xc1, PROTOCOL_VERSION, 1, 0]);
    expect([4, 8, 12, 16, 20, 24, 28].map((offset) => view.getUint32(offset, true))).toEqual([3, 120, 2, 1, 0, 16, 0]);
  });

  it('is followed by the float32 bytes unchanged', () => {
    const frame = encodePeerChunk(chunk);
    expect(new Float32Array(frame.buffer, PEER_CHUNK_HEADER_BYTES)).toEqual(chunk.data);
  });

  it('reads the data in place when header and data arrive as two fragments', () => {
    const payload = new Uint8Array(chunk.data.buffer.slice(0));
    const decoded = parsePeerMessage([encodePeerChunkHeader(chunk), payload]);
    if (decoded.type !== 'peer-chunk') throw new Error(`expected a chunk, got ${decoded.type}`);
    expect(decoded.data.buffer).toBe(payload.buffer);
    expect(decoded).toEqual(chunk);
  });

  it('copies the data when it sits at an offset a Float32Array cannot start at', () => {
    const backing = new Uint8Array(chunk.data.byteLength + 1);
    const payload = backing.subarray(1);
    payload.set(new Uint8Array(chunk.data.buffer));
    const decoded = parsePeerMessage([encodePeerChunkHeader(chunk), payload]);
    if (decoded.type !== 'peer-chunk') throw new Error(`expected a chunk, got ${decoded.type}`);
    expect(decoded.data.buffer).not.toBe(backing.buffer);
    expect(decoded.data).toEqual(chunk.data);
  });

  it('decodes a chunk split into other fragments than header and data', () => {
    const frame = encodePeerChunk(chunk);
    expect(parsePeerMessage([frame.subarray(0, 5), frame.subarray(5, 40), frame.subarray(40)])).toEqual(chunk);
  });

  it.each([0, 1, 1023])('carries %i elements', (length) => {
    const data = Float32Array.from({ length }, (_, i) => i * 0.5 - 3);
    expect(parsePeerMessage(encodePeerChunk({ ...chunk, data }))).toEqual({ ...chunk, data });
  });

  it.each([
    ['bf16', 1],
    ['f16', 2],
  ] as const)('carries %s elements as raw 16-bit values, with format code %i in byte 3', (format, code) => {
    const data = Uint16Array.from({ length: 5 }, (_, i) => 0x3c00 + i);
    const frame = encodePeerChunk({ ...chunk, format, data });
    expect(frame[3]).toBe(code);
    expect(new DataView(frame.buffer).getUint32(24, true)).toBe(10);
    const decoded = parsePeerMessage(frame);
    if (decoded.type !== 'peer-chunk') throw new Error(`expected a chunk, got ${decoded.type}`);
    expect(decoded.format).toBe(format);
    expect(decoded.data).toBeInstanceOf(Uint16Array);
    expect(Array.from(decoded.data)).toEqual(Array.from(data));
  });

  it('leaves the format out of an f32 chunk, which keeps byte 3 at 0', () => {
    const decoded = parsePeerMessage(encodePeerChunk({ ...chunk, format: 'f32' }));
    expect(decoded).toEqual(chunk);
    expect('format' in decoded).toBe(false);
  });

  it('refuses an unknown element format', () => {
    const frame = encodePeerChunk(chunk);
    frame[3] = 3;
    expect(() => parsePeerMessage(frame)).toThrow("bad field 'format' in 'peer-chunk': expected 0 (f32), 1 (bf16) or 2 (f16), got 3");
  });

  it('refuses 16-bit data whose length is not a whole number of elements', () => {
    const header = encodePeerChunkHeader({ ...chunk, format: 'bf16', data: new Uint16Array(2) });
    new DataView(header.buffer).setUint32(24, 3, true);
    expect(() => parsePeerMessage([header, new Uint8Array(3)])).toThrow("bad field 'data' in 'peer-chunk': 3 bytes is not a whole number of bf16 elements");
  });

  it('refuses to encode data whose element type does not match the format', () => {
    expect(() => encodePeerChunkHeader({ ...chunk, format: 'f16' })).toThrow('a peer-chunk of format f16 cannot carry a Float32Array');
    expect(() => encodePeerChunkHeader({ ...chunk, data: new Uint16Array(2) })).toThrow('a peer-chunk of format f32 cannot carry a Uint16Array');
  });

  it('refuses to announce a field that does not fit in 32 bits', () => {
    expect(() => encodePeerChunkHeader({ ...chunk, step: 2 ** 32 })).toThrow(/must be a u32, got 4294967296/);
  });
});
