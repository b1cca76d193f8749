import { describe, expect, it } from 'vitest';
import type { FileInfo } from '@kkchat/protocol';
import { clampFrame, formatBytes, formatDuration } from './files';
import { kindFor } from '../stores/files';

const file = (mime: string, thumbnail: FileInfo['thumbnail'] = null): FileInfo => ({ id: 'f', name: 'x', size: 1, mime, sha256: '', width: null, height: null, thumbnail });

describe('file helpers', () => {
  it('formats sizes and durations the way people read them', () => {
    expect(formatBytes(12, 'en')).toBe('12 B');
    expect(formatBytes(8_000, 'en')).toBe('8 KB');
    expect(formatBytes(1_234_567, 'en')).toBe('1.2 MB');
    expect(formatDuration(7_400)).toBe('0:07');
    expect(formatDuration(3_723_000)).toBe('1:02:03');
  });

  it('picks the message kind from what the server detected', () => {
    expect(kindFor(file('image/png', { width: 10, height: 10 }))).toBe('image');
    expect(kindFor(file('image/png'))).toBe('file'); // not decoded: no thumbnail
    expect(kindFor(file('audio/mpeg'))).toBe('audio');
    expect(kindFor(file('video/mp4'))).toBe('video');
    expect(kindFor(file('application/pdf'))).toBe('file');
  });

  it('keeps a cropped square covered by the image', () => {
    const portrait = { width: 600, height: 900 };
    expect(clampFrame(portrait, { zoom: 1, offsetX: 0.4, offsetY: 0.4 })).toEqual({ zoom: 1, offsetX: 0, offsetY: 0.25 });
    expect(clampFrame(portrait, { zoom: 2, offsetX: -1, offsetY: 0 }).offsetX).toBe(-0.5);
  });
});
