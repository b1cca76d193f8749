import { createRouter, createWebHistory, type Router, type RouterHistory } from 'vue-router';
import { useSessionStore } from '../stores/session';
import { useUiStore } from '../stores/ui';

declare module 'vue-router' {
  interface RouteMeta {
    /** Only for signed-out visitors (login, register): a signed-in user is sent home. */
    guest?: boolean;
    /** Only for administrators (the server checks every admin call again). */
    admin?: boolean;
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
      {
        path: '/admin',
        component: () => import('../views/admin/AdminLayout.vue'),
        meta: { admin: true },
        children: [
          { path: '', name: 'admin-dashboard', component: () => import('../views/admin/AdminDashboard.vue') },
          { path: 'users', name: 'admin-users', component: () => import('../views/admin/AdminUsers.vue') },
          { path: 'users/:id', name: 'admin-user', component: () => import('../views/admin/AdminUser.vue'), props: true },
          { path: 'groups', name: 'admin-groups', component: () => import('../views/admin/AdminGroups.vue') },
          { path: 'groups/:id', name: 'admin-group', component: () => import('../views/admin/AdminGroup.vue'), props: true },
          {
            path: 'conversations/:id',
            name: 'admin-conversation',
            component: () => import('../views/admin/AdminConversation.vue'),
            props: true,
          },
          { path: 'audit', name: 'admin-audit', component: () => import('../views/admin/AdminAudit.vue') },
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
    // Normal users never see the admin area (the entry is hidden too; the server refuses every admin call).
    // Told why rather than sent home silently.
    if (to.matched.some((record) => record.meta.admin) && !session.isAdmin) {
      useUiStore().toastKey('errors.ADMIN_REQUIRED', 'error', 'Only administrators can do this.');
      return { name: 'home' };
    }
    return true;
  });

  return router;
}
