import { defineStore } from 'pinia';
import { ref } from 'vue';

export type SidebarTab = 'chats' | 'contacts' | 'requests' | 'search';

/** A question shown in the app's confirm dialog (instead of window.confirm, which blocks and cannot be styled). */
export interface ConfirmRequest {
  message: string;
  confirmLabel: string;
  danger: boolean;
  resolve(answer: boolean): void;
}

/** A question that needs a reason typed before it can be confirmed (administrators' actions). */
export interface ReasonRequest {
  message: string;
  confirmLabel: string;
  danger: boolean;
  /** Under the field: who will see the reason. */
  hint: string;
  resolve(reason: string | null): void;
}

export interface Toast {
  id: number;
  /** Either ready text or an i18n key that ToastStack translates (for callers without i18n, like stores). */
  text: string;
  key?: string;
  kind: 'info' | 'error';
}

/** Layout state: the sidebar tab, the phone layout flag, toasts and a clock for relative times. */
export const useUiStore = defineStore('ui', () => {
  const tab = ref<SidebarTab>('chats');
  const toasts = ref<Toast[]>([]);
  const confirmation = ref<ConfirmRequest | null>(null);
  const reasonRequest = ref<ReasonRequest | null>(null);
  /** Ticks every 30 s so "last seen 5 minutes ago" stays true without each component running a timer. */
  const now = ref(Date.now());
  let nextToastId = 1;
  let clock: ReturnType<typeof setInterval> | null = null;

  function startClock(): void {
    clock ??= setInterval(() => (now.value = Date.now()), 30_000);
  }

  function toast(text: string, kind: Toast['kind'] = 'info', key?: string): void {
    const id = nextToastId++;
    toasts.value = [...toasts.value, { id, text, kind, ...(key ? { key } : {}) }];
    setTimeout(() => dismiss(id), kind === 'error' ? 6_000 : 3_500);
  }

  /** A toast from a translation key; `fallback` shows when the key is unknown. */
  function toastKey(key: string, kind: Toast['kind'] = 'info', fallback = ''): void {
    toast(fallback, kind, key);
  }

  function dismiss(id: number): void {
    toasts.value = toasts.value.filter((t) => t.id !== id);
  }

  /** Asks a yes/no question in the app's dialog; resolves false when dismissed. */
  function confirm(message: string, confirmLabel: string, danger = false): Promise<boolean> {
    confirmation.value?.resolve(false);
    return new Promise((resolve) => {
      confirmation.value = {
        message,
        confirmLabel,
        danger,
        resolve: (answer) => {
          confirmation.value = null;
          resolve(answer);
        },
      };
    });
  }

  /** Asks for confirmation with a required reason; resolves the trimmed reason, or null when cancelled. */
  function askReason(message: string, confirmLabel: string, hint: string, danger = false): Promise<string | null> {
    reasonRequest.value?.resolve(null);
    return new Promise((resolve) => {
      reasonRequest.value = {
        message,
        confirmLabel,
        danger,
        hint,
        resolve: (reason) => {
          reasonRequest.value = null;
          resolve(reason);
        },
      };
    });
  }

  return { tab, toasts, confirmation, reasonRequest, now, startClock, toast, toastKey, dismiss, confirm, askReason };
});
