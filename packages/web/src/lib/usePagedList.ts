import { computed, onMounted, ref, watch, type Ref } from 'vue';

/**
 * Search, a filter and paging for an admin list: the search box is debounced, a new search or filter goes back
 * to page 1, and only the newest request's answer is shown (a slow answer cannot overwrite a newer one).
 * `fetch` returns the rows and the total of the page asked for.
 */
export function usePagedList<Row, Filter extends string>(
  filter: Ref<Filter>,
  pageSize: number,
  fetch: (query: { q: string; filter: Filter; page: number; pageSize: number }) => Promise<{ rows: Row[]; total: number }>,
  onError: (error: unknown) => void,
) {
  const q = ref('');
  const page = ref(1);
  const rows = ref<Row[]>([]) as Ref<Row[]>;
  const total = ref(0);
  let latest = 0;

  async function load(): Promise<void> {
    const request = ++latest;
    try {
      const result = await fetch({ q: q.value.trim(), filter: filter.value, page: page.value, pageSize });
      if (request !== latest) return;
      rows.value = result.rows;
      total.value = result.total;
    } catch (error) {
      if (request === latest) onError(error);
    }
  }

  let timer: ReturnType<typeof setTimeout> | null = null;
  watch(q, () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      page.value = 1;
      void load();
    }, 250);
  });
  watch(filter, () => {
    page.value = 1;
    void load();
  });
  onMounted(load);

  const pages = computed(() => Math.max(1, Math.ceil(total.value / pageSize)));
  const range = computed(() => ({
    from: total.value === 0 ? 0 : (page.value - 1) * pageSize + 1,
    to: Math.min(total.value, page.value * pageSize),
    total: total.value,
  }));
  function go(delta: number): void {
    page.value = Math.min(pages.value, Math.max(1, page.value + delta));
    void load();
  }

  return { q, page, rows, total, pages, range, go, load };
}
