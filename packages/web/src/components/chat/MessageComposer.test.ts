import { beforeEach, describe, expect, it } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import { LIMITS } from '@kkchat/protocol';
import MessageComposer from './MessageComposer.vue';
import { mountWithApp } from '../../test-support/mount';

function setup() {
  const { wrapper } = mountWithApp(MessageComposer, { props: { conversationId: 'c1' } });
  const input = wrapper.get('[data-testid="composer-input"]');
  return { wrapper, input };
}

describe('MessageComposer', () => {
  beforeEach(() => setActivePinia(createPinia()));

  it('sends on Enter and clears the input', async () => {
    const { wrapper, input } = setup();
    await input.setValue('hello');
    await input.trigger('keydown', { key: 'Enter' });
    expect(wrapper.emitted('send')).toEqual([['hello']]);
    expect((input.element as HTMLTextAreaElement).value).toBe('');
  });

  it('does not send on Shift+Enter or while an IME is composing', async () => {
    const { wrapper, input } = setup();
    await input.setValue('line one');
    await input.trigger('keydown', { key: 'Enter', shiftKey: true });
    await input.trigger('keydown', { key: 'Enter', isComposing: true });
    expect(wrapper.emitted('send')).toBeUndefined();
  });

  it('does not send blank text', async () => {
    const { wrapper, input } = setup();
    await input.setValue('   \n ');
    await input.trigger('keydown', { key: 'Enter' });
    expect(wrapper.emitted('send')).toBeUndefined();
    // With nothing to send, the button records a voice clip instead.
    expect(wrapper.find('[data-testid="composer-send"]').exists()).toBe(false);
    expect(wrapper.find('[data-testid="voice-record"]').exists()).toBe(true);
  });

  it('sends a pasted image as a file and keeps pasted text as text', async () => {
    const { wrapper, input } = setup();
    const image = new File([new Uint8Array([137, 80, 78, 71])], 'shot.png', { type: 'image/png' });
    await input.trigger('paste', { clipboardData: { files: [image] } });
    expect(wrapper.emitted('files')).toEqual([[[image]]]);
    await input.trigger('paste', { clipboardData: { files: [] } });
    expect(wrapper.emitted('files')).toHaveLength(1);
  });

  it('shows characters left near the limit, counting code points, and blocks over-long text', async () => {
    const { wrapper, input } = setup();
    await input.setValue('a'.repeat(100));
    expect(wrapper.find('[data-testid="composer-remaining"]').exists()).toBe(false);
    // 3900 emoji are 7800 UTF-16 units but 3900 code points: 100 left.
    await input.setValue('😀'.repeat(LIMITS.textMax - 100));
    expect(wrapper.get('[data-testid="composer-remaining"]').text()).toBe('100 characters left');
    await input.setValue('😀'.repeat(LIMITS.textMax + 2));
    expect(wrapper.get('[data-testid="composer-remaining"]').text()).toBe('2 characters over the limit');
    expect(wrapper.get('[data-testid="composer-send"]').attributes('disabled')).toBeDefined();
  });

  it('announces typing while text is entered', async () => {
    const { wrapper, input } = setup();
    await input.setValue('h');
    expect(wrapper.emitted('typing')).toHaveLength(1);
  });
});
