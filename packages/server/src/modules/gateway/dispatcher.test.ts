import { describe, expect, it } from 'vitest';
import { AppError } from '../../errors.js';
import { parseFrame, type FrameError } from './dispatcher.js';

const text = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));

function expectError(result: unknown, code: string): AppError {
  expect(result).toBeInstanceOf(AppError);
  expect((result as AppError).code).toBe(code);
  return result as AppError;
}

describe('parseFrame', () => {
  it('accepts each client frame type', () => {
    expect(parseFrame(text({ type: 'auth', token: 't' }), false)).toEqual({ type: 'auth', token: 't' });
    expect(parseFrame(text({ type: 'ping', rid: 'r1' }), false)).toEqual({ type: 'ping', rid: 'r1' });
    expect(parseFrame(text({ type: 'typing', conversationId: 'c' }), false)).toEqual({ type: 'typing', conversationId: 'c' });
    expect(parseFrame(text({ type: 'read', conversationId: 'c', seq: 3 }), false)).toEqual({ type: 'read', conversationId: 'c', seq: 3 });
    expect(parseFrame(text({ type: 'send', conversationId: 'c', clientMsgId: 'm-1', kind: 'text', text: 'hi' }), false)).toEqual({
      type: 'send',
      conversationId: 'c',
      clientMsgId: 'm-1',
      kind: 'text',
      text: 'hi',
    });
  });

  it('drops fields a client is not allowed to set, such as the sender', () => {
    const frame = parseFrame(text({ type: 'send', conversationId: 'c', clientMsgId: 'm', kind: 'text', text: 'x', senderId: 'someone-else' }), false);
    expect(frame).not.toBeInstanceOf(AppError);
    expect(frame).not.toHaveProperty('senderId');
  });

  it('refuses binary frames and invalid JSON', () => {
    expect(expectError(parseFrame(text({ type: 'ping' }), true), 'INVALID_FRAME').message).toMatch(/text/);
    expect(expectError(parseFrame(text('{"type":'), false), 'INVALID_FRAME').message).toMatch(/JSON/);
    expectError(parseFrame(text(''), false), 'INVALID_FRAME');
  });

  it('refuses JSON that is not an object', () => {
    for (const value of ['null', '[]', '[{"type":"ping"}]', '1', '"ping"', 'true']) expectError(parseFrame(text(value), false), 'INVALID_FRAME');
  });

  it('names unknown types, and a missing type, UNKNOWN_FRAME_TYPE', () => {
    expect(expectError(parseFrame(text({ type: 'system' }), false), 'UNKNOWN_FRAME_TYPE').message).toContain('send');
    expectError(parseFrame(text({}), false), 'UNKNOWN_FRAME_TYPE');
    expectError(parseFrame(text({ type: 42 }), false), 'UNKNOWN_FRAME_TYPE');
    expectError(parseFrame(text({ type: '__proto__' }), false), 'UNKNOWN_FRAME_TYPE');
  });

  it('names every invalid field', () => {
    const error = expectError(parseFrame(text({ type: 'send', clientMsgId: 'bad id!', kind: 'text', text: 5 }), false), 'INVALID_FRAME');
    expect(error.fields?.map((f) => f.field).sort()).toEqual(['clientMsgId', 'conversationId', 'text']);
    // A file message names its own fields; an unknown kind names the kind.
    const file = expectError(parseFrame(text({ type: 'send', conversationId: 'c', clientMsgId: 'c1', kind: 'image' }), false), 'INVALID_FRAME');
    expect(file.fields?.map((f) => f.field)).toEqual(['fileId']);
    const kind = expectError(parseFrame(text({ type: 'send', conversationId: 'c', clientMsgId: 'c1', kind: 'poem', text: 'x' }), false), 'INVALID_FRAME');
    expect(kind.fields?.map((f) => f.field)).toEqual(['kind']);
    const read = expectError(parseFrame(text({ type: 'read', conversationId: 'c', seq: 1.5 }), false), 'INVALID_FRAME');
    expect(read.fields?.map((f) => f.field)).toEqual(['seq']);
  });

  it('keeps the rid of a refused frame when the rid itself is usable', () => {
    const invalid = expectError(parseFrame(text({ type: 'read', rid: 'r9', conversationId: 'c', seq: -1 }), false), 'INVALID_FRAME');
    expect((invalid as FrameError).rid).toBe('r9');
    const unknown = expectError(parseFrame(text({ type: 'system', rid: 'r10' }), false), 'UNKNOWN_FRAME_TYPE');
    expect((unknown as FrameError).rid).toBe('r10');
    for (const rid of [42, 'x'.repeat(65), null]) {
      expect((expectError(parseFrame(text({ type: 'read', rid, conversationId: 'c', seq: -1 }), false), 'INVALID_FRAME') as FrameError).rid).toBeUndefined();
    }
  });

  it('reads fragmented and ArrayBuffer payloads', () => {
    const whole = JSON.stringify({ type: 'ping', rid: 'x' });
    const parts = [Buffer.from(whole.slice(0, 5)), Buffer.from(whole.slice(5))];
    expect(parseFrame(parts, false)).toEqual({ type: 'ping', rid: 'x' });
    const bytes = new TextEncoder().encode(whole);
    expect(parseFrame(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer, false)).toEqual({ type: 'ping', rid: 'x' });
  });
});
