import { describe, expect, it, vi } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import { defineComponent, h, ref } from 'vue';
import { usePagedList } from './usePagedList';

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('usePagedList', () => {
  it('shows only the newest answer: a slow earlier request cannot overwrite a later one', async () => {
    vi.useFakeTimers();
    const answers = [deferred<{ rows: string[]; total: number }>(), deferred<{ rows: string[]; total: number }>()];
    let call = 0;
    const fetch = vi.fn(() => answers[call++]!.promise);
    const filter = ref<'all' | 'disabled'>('all');
    let list!: ReturnType<typeof usePagedList<string, 'all' | 'disabled'>>;
    mount(defineComponent({ setup: () => ((list = usePagedList(filter, 2, fetch, () => undefined)), () => h('div')) }));
    filter.value = 'disabled';
    await flushPromises();
    expect(fetch).toHaveBeenCalledTimes(2);
    answers[1]!.resolve({ rows: ['disabled one'], total: 1 });
    await flushPromises();
    answers[0]!.resolve({ rows: ['a', 'b'], total: 9 });
    await flushPromises();
    expect(list.rows.value).toEqual(['disabled one']);
    expect(list.range.value).toEqual({ from: 1, to: 1, total: 1 });
    vi.useRealTimers();
  });

  it('debounces the search and goes back to page 1; paging stays within the pages', async () => {
    vi.useFakeTimers();
    const fetch = vi.fn(async ({ page }: { page: number }) => ({ rows: [`p${page}`], total: 5 }));
    let list!: ReturnType<typeof usePagedList<string, 'all'>>;
    mount(defineComponent({ setup: () => ((list = usePagedList(ref<'all'>('all'), 2, fetch, () => undefined)), () => h('div')) }));
    await flushPromises();
    list.go(1);
    list.go(5);
    await flushPromises();
    expect(list.page.value).toBe(3);
    list.q.value = 'a';
    list.q.value = 'al';
    await vi.advanceTimersByTimeAsync(300);
    expect(fetch).toHaveBeenLastCalledWith({ q: 'al', filter: 'all', page: 1, pageSize: 2 });
    expect(fetch).toHaveBeenCalledTimes(4);
    vi.useRealTimers();
  });
});
