import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { flushPromises } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import UploadList from './UploadList.vue';
import { mountWithApp } from '../../test-support/mount';
import { createUploadServer } from '../../test-support/upload-server';
import { useFilesStore } from '../../stores/files';
import { setClient, type KKChatClient } from '../../sdk';

const PART = 1000;

/**
 * The composer's uploads through the real SDK against the upload endpoints in memory: what the list shows while
 * a file goes up, cancel, and retry after a failure.
 */
describe('UploadList and the files store', () => {
  let server: ReturnType<typeof createUploadServer>;
  let client: KKChatClient;

  beforeEach(async () => {
    setActivePinia(createPinia());
    vi.stubGlobal('XMLHttpRequest', undefined);
    server = createUploadServer(PART);
    client = await server.signedInClient();
  });
  afterEach(async () => {
    await client.auth.logout();
    setClient(null);
    vi.unstubAllGlobals();
  });

  /** A 4 KB file picked in chat c1, with the list of c1's uploads on screen. */
  function start() {
    const { wrapper } = mountWithApp(UploadList, { props: { conversationId: 'c1' } });
    useFilesStore().sendFiles('c1', [new File([new Uint8Array(4 * PART).fill(1)], 'report.pdf', { type: 'application/pdf' })]);
    return wrapper;
  }
  const sentParts = () => server.log.filter((line) => line.startsWith('PUT '));
  const fileMessages = () => client.outbox('c1').map((entry) => [entry.kind, entry.file?.id]);

  it('shows how far the upload is, then sends the file message and removes the entry', async () => {
    const release = server.holdPart(3);
    const wrapper = start();
    await vi.waitFor(() => expect(sentParts()).toContain('PUT /uploads/up1/parts/3'));
    await flushPromises();
    const bar = wrapper.get('[role="progressbar"]');
    expect(bar.attributes('aria-valuenow')).toBe('50');
    expect(bar.attributes('aria-label')).toBe('Uploading report.pdf');
    expect(bar.get('span').attributes('style')).toContain('width: 50%');
    expect(wrapper.get('.size').text()).toBe('2 KB / 4 KB');
    expect(wrapper.get('[data-testid="upload-item"]').attributes('data-state')).toBe('uploading');

    release();
    await vi.waitFor(() => expect(wrapper.find('[data-testid="upload-list"]').exists()).toBe(false));
    expect(fileMessages()).toEqual([['file', 'file-up1']]);
  });

  it('cancel removes the entry at once and deletes the upload on the server; nothing is sent', async () => {
    server.holdPart(2);
    const wrapper = start();
    await vi.waitFor(() => expect(sentParts()).toContain('PUT /uploads/up1/parts/2'));
    await wrapper.get('[data-testid="upload-cancel"]').trigger('click');
    expect(wrapper.find('[data-testid="upload-item"]').exists()).toBe(false);
    await vi.waitFor(() => expect(server.log).toContain('DELETE /uploads/up1'));
    expect(server.uploads.has('up1')).toBe(false);
    expect(server.log).not.toContain('POST /uploads/up1/complete');
    expect(useFilesStore().uploads).toEqual([]);
    expect(fileMessages()).toEqual([]);
  });

  it('after a failure shows the error and Retry; retry continues the same upload from where the server is', async () => {
    server.answerPart(2, 'fail');
    const wrapper = start();
    await vi.waitFor(() => expect(wrapper.find('[data-testid="upload-retry"]').exists()).toBe(true));
    const item = wrapper.get('[data-testid="upload-item"]');
    expect(item.attributes('data-state')).toBe('failed');
    expect(item.get('[role="alert"]').text()).toBe('Something went wrong on the server.');
    expect(item.get('[role="progressbar"]').attributes('aria-valuenow')).toBe('25');
    expect(fileMessages()).toEqual([]);

    await wrapper.get('[data-testid="upload-retry"]').trigger('click');
    await vi.waitFor(() => expect(wrapper.find('[data-testid="upload-list"]').exists()).toBe(false));
    // One upload only: the server was asked where it is, and part 1 was not sent again.
    expect(server.log.filter((line) => line === 'POST /uploads')).toHaveLength(1);
    expect(server.log).toContain('GET /uploads/up1');
    expect(sentParts()).toEqual([
      'PUT /uploads/up1/parts/1',
      'PUT /uploads/up1/parts/2',
      'PUT /uploads/up1/parts/2',
      'PUT /uploads/up1/parts/3',
      'PUT /uploads/up1/parts/4',
    ]);
    expect(fileMessages()).toEqual([['file', 'file-up1']]);
  });

  it('cancelling a failed upload deletes it on the server', async () => {
    server.answerPart(1, 'fail');
    const wrapper = start();
    await vi.waitFor(() => expect(wrapper.find('[data-testid="upload-retry"]').exists()).toBe(true));
    await wrapper.get('[data-testid="upload-cancel"]').trigger('click');
    expect(wrapper.find('[data-testid="upload-list"]').exists()).toBe(false);
    await vi.waitFor(() => expect(server.uploads.has('up1')).toBe(false));
    expect(server.log).toContain('DELETE /uploads/up1');
  });
});
