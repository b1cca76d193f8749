import { mount, type ComponentMountingOptions } from '@vue/test-utils';
import { createPinia, getActivePinia, setActivePinia } from 'pinia';
import { createMemoryHistory, createRouter } from 'vue-router';
import type { Component } from 'vue';
import { createAppI18n, type Locale } from '../i18n';

/** A router with the app's route names pointing at empty components, so links and pushes resolve. */
export function createTestRouter() {
  const Empty = { template: '<div />' };
  return createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/', name: 'home', component: Empty },
      { path: '/login', name: 'login', component: Empty },
      { path: '/register', name: 'register', component: Empty },
      { path: '/chat/:conversationId', name: 'chat', component: Empty },
      { path: '/settings', name: 'settings', component: Empty },
      { path: '/admin', name: 'admin-dashboard', component: Empty },
      { path: '/admin/users', name: 'admin-users', component: Empty },
      { path: '/admin/users/:id', name: 'admin-user', component: Empty },
      { path: '/admin/groups', name: 'admin-groups', component: Empty },
      { path: '/admin/groups/:id', name: 'admin-group', component: Empty },
      { path: '/admin/conversations/:id', name: 'admin-conversation', component: Empty },
      { path: '/admin/audit', name: 'admin-audit', component: Empty },
    ],
  });
}

/** Mounts with Pinia (the active one, else a new one), vue-i18n and a memory router. */
export function mountWithApp<C extends Component>(
  component: C,
  options: ComponentMountingOptions<C> & { locale?: Locale } = {} as ComponentMountingOptions<C>,
) {
  // Reuse the test's active Pinia so stores it filled before mounting are the ones the component sees.
  const pinia = getActivePinia() ?? createPinia();
  setActivePinia(pinia);
  const router = createTestRouter();
  const i18n = createAppI18n(options.locale ?? 'en');
  const wrapper = mount(component, {
    ...options,
    global: { ...options.global, plugins: [pinia, router, i18n, ...(options.global?.plugins ?? [])] },
  } as ComponentMountingOptions<C>);
  return { wrapper, router, pinia, i18n };
}
