import { computed, onBeforeUnmount, ref } from 'vue';
import { useI18n } from 'vue-i18n';
import { errorMessage, fieldErrors, isErrorLike, retryAfterSeconds } from './errors';

/**
 * Error state for a form: per-field messages (from ApiError.fields or local checks), a form-level message, and
 * a live countdown when the server asked us to wait (429 with retryAfterMs).
 */
export function useFormErrors() {
  const { t, te } = useI18n();
  const fields = ref<Record<string, string>>({});
  const formError = ref('');
  const retryIn = ref(0);
  let countdown: ReturnType<typeof setInterval> | null = null;

  function stopCountdown(): void {
    if (countdown) clearInterval(countdown);
    countdown = null;
  }

  /** Shows a message found by a local check under one field. */
  function setField(field: string, message: string): void {
    fields.value = { ...fields.value, [field]: message };
  }

  function clear(): void {
    fields.value = {};
    formError.value = '';
  }

  /** Shows an error from the SDK: field messages under their inputs, the rest at the top of the form. */
  function show(error: unknown): void {
    const raw = fieldErrors(error);
    const message = errorMessage(error, t, te);
    // A specific code (USERNAME_TAKEN, CURRENT_PASSWORD_INCORRECT) is shown translated under the field it
    // names, once; only generic validation keeps the server's per-field wording.
    const specific = isErrorLike(error) && error.code !== 'VALIDATION_FAILED';
    fields.value = specific ? Object.fromEntries(Object.keys(raw).map((field) => [field, message])) : raw;
    const hasFieldErrors = Object.keys(fields.value).length > 0;
    formError.value = hasFieldErrors ? '' : message;
    const seconds = retryAfterSeconds(error);
    if (seconds !== null) {
      stopCountdown();
      retryIn.value = seconds;
      countdown = setInterval(() => {
        retryIn.value -= 1;
        if (retryIn.value <= 0) stopCountdown();
      }, 1000);
    }
  }

  const waiting = computed(() => retryIn.value > 0);
  onBeforeUnmount(stopCountdown);

  return { fields, formError, retryIn, waiting, clear, show, setField };
}
