import { createRouter, createWebHistory, type Router, type RouterHistory } from 'vue-router';
import { useSessionStore } from '../stores/session';

declare module 'vue-router' {
  interface RouteMeta {
    /** Only for signed-out visitors (login, register): a signed-in user is sent home. */
    guest?: boolean;
  }
}

/** Builds the router; the guard restores the session once (refresh cookie) before the first navigation. */
export function createAppRouter(history: RouterHistory = createWebHistory()): Router {
  const router = createRouter({
    history,
    routes: [
      { path: '/login', name: 'login', component: () => import('../views/LoginView.vue'), meta: { guest: true } },
      {
        path: '/register',
        name: 'register',
        component: () => import('../views/RegisterView.vue'),
        meta: { guest: true },
      },
      {
        path: '/',
        component: () => import('../views/MainLayout.vue'),
        children: [
          { path: '', name: 'home', component: () => import('../views/EmptyPane.vue') },
          {
            path: 'chat/:conversationId',
            name: 'chat',
            component: () => import('../views/ChatView.vue'),
            props: true,
          },
          { path: 'settings', name: 'settings', component: () => import('../views/SettingsView.vue') },
          { path: 'join/:code', name: 'join', component: () => import('../views/JoinGroupView.vue'), props: true },
        ],
      },
      { path: '/:pathMatch(.*)*', redirect: '/' },
    ],
  });

  router.beforeEach(async (to) => {
    const session = useSessionStore();
    if (!session.restored) await session.restore();
    if (to.meta.guest) return session.isSignedIn ? { name: 'home' } : true;
    if (!session.isSignedIn) {
      return to.fullPath === '/' ? { name: 'login' } : { name: 'login', query: { redirect: to.fullPath } };
    }
    return true;
  });

  return router;
}
