import { beforeEach, describe, expect, it } from 'vitest';
import { nextTick } from 'vue';
import { createPinia, setActivePinia } from 'pinia';
import type { FileInfo, FileLink } from '@kkchat/protocol';
import FileMessage from './FileMessage.vue';
import { mountWithApp } from '../../test-support/mount';
import { useFilesStore } from '../../stores/files';

const clip: FileInfo = { id: 'f1', name: 'voice.webm', size: 4000, mime: 'video/webm', sha256: 'x', width: null, height: null, thumbnail: null };
const link = (n: number): FileLink => ({
  fileId: 'f1',
  url: `/api/v1/files/f1/content?v=original&sig=${n}`,
  downloadUrl: `/api/v1/files/f1/content?download=1&sig=${n}`,
  thumbnailUrl: null,
  expiresAt: Date.now() + 10 * 60_000,
});

describe('FileMessage', () => {
  beforeEach(() => setActivePinia(createPinia()));

  it('a playing clip keeps its link when it is renewed, and moves to the new one only when the old one fails', async () => {
    const files = useFilesStore();
    files.links = { f1: link(1) };
    const { wrapper } = mountWithApp(FileMessage, { props: { kind: 'audio', file: clip, durationMs: 3200 } });
    const player = () => wrapper.get('[data-testid="audio-player"]');
    expect(player().attributes('src')).toBe(link(1).url);
    expect(wrapper.text()).toContain('Voice message · 0:03');
    files.links = { f1: link(2) };
    await nextTick();
    expect(player().attributes('src')).toBe(link(1).url);
    await player().trigger('error');
    expect(player().attributes('src')).toBe(link(2).url);
  });

  it('shows a file card with its size and a download link; names are text', async () => {
    const files = useFilesStore();
    files.links = { f1: link(1) };
    const file = { ...clip, name: '<img src=x onerror=alert(1)>.pdf', mime: 'application/pdf', size: 1_234_567 };
    const { wrapper } = mountWithApp(FileMessage, { props: { kind: 'file', file } });
    expect(wrapper.get('[data-testid="file-card"]').text()).toContain('1.2 MB');
    expect(wrapper.find('img').exists()).toBe(false);
    expect(wrapper.get('[data-testid="file-download"]').attributes('href')).toBe(link(1).downloadUrl);
  });
});
