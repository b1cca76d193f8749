import { describe, expect, it } from 'vitest';
import { mount } from '@vue/test-utils';
import BarChart from './BarChart.vue';

const days = (counts: number[]) => counts.map((count, i) => ({ day: `2026-01-${String(i + 1).padStart(2, '0')}`, count }));

describe('BarChart', () => {
  it('draws one bar per day, scaled to a round top, with the day and count as each bar’s title', () => {
    const wrapper = mount(BarChart, {
      props: { data: days([0, 3, 7, 14]), label: 'Messages per day', barLabel: (d) => `${d.day}: ${d.count}`, locale: 'en' },
    });
    const bars = wrapper.findAll('[data-testid="bar"]');
    expect(bars).toHaveLength(4);
    const heights = bars.map((b) => Number(b.attributes('height')));
    // 14 rounds up to a top of 20: the tallest bar is 70% of the plot, an empty day has no height.
    expect(heights[0]).toBe(0);
    expect(heights[3]! / heights[2]!).toBeCloseTo(2, 5);
    expect(wrapper.text()).toContain('20');
    expect(bars[2]!.find('title').text()).toBe('2026-01-03: 7');
    expect(wrapper.attributes('aria-label')).toBe('Messages per day');
  });

  it('labels the last day and every 7th day back from it, and the first day only when no label is near it', () => {
    const wrapper = mount(BarChart, {
      props: { data: days(Array.from({ length: 30 }, () => 1)), label: 'x', barLabel: () => '', locale: 'en' },
    });
    const ticks = wrapper.findAll('.ticks text').map((t) => t.text());
    expect(ticks).toEqual(['1/2', '1/9', '1/16', '1/23', '1/30']);
    const month = mount(BarChart, { props: { data: days(Array.from({ length: 12 }, () => 1)), label: 'x', barLabel: () => '', locale: 'en' } });
    expect(month.findAll('.ticks text').map((t) => t.text())).toEqual(['1/1', '1/5', '1/12']);
  });

  it('shows an all-zero series without dividing by zero', () => {
    const wrapper = mount(BarChart, { props: { data: days([0, 0]), label: 'x', barLabel: () => '', locale: 'en' } });
    expect(wrapper.findAll('[data-testid="bar"]').map((b) => b.attributes('height'))).toEqual(['0', '0']);
  });
});
