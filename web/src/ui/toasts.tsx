import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
} from 'react';
import type { ReactNode } from 'react';

export type ToastKind = 'info' | 'success' | 'error' | 'attention';

export interface ToastInput {
  kind: ToastKind;
  /** A later toast with the same key replaces this one; `dismiss(key)` removes it. */
  key?: string;
  title: string;
  body?: string;
  action?: { label: string; run: () => void };
}

interface Toast extends ToastInput {
  id: number;
}

/** How long a toast stays; `attention` (an agent waits for a person) stays until dismissed. */
const LIFETIME_MS: Record<ToastKind, number | null> = {
  info: 6000,
  success: 6000,
  error: 12000,
  attention: null,
};
const MAX_SHOWN = 5;

interface Toasts {
  push: (toast: ToastInput) => void;
  dismiss: (key: string) => void;
}

const ToastContext = createContext<Toasts | null>(null);

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const nextId = useRef(1);
  const timers = useRef(new Map<number, number>());

  const dismiss = useCallback((id: number) => {
    setToasts((list) => list.filter((t) => t.id !== id));
    const timer = timers.current.get(id);
    if (timer !== undefined) window.clearTimeout(timer);
    timers.current.delete(id);
  }, []);

  const push = useCallback(
    (toast: ToastInput) => {
      const id = nextId.current++;
      setToasts((list) =>
        [...list.filter((t) => !toast.key || t.key !== toast.key), { ...toast, id }].slice(
          -MAX_SHOWN,
        ),
      );
      const lifetime = LIFETIME_MS[toast.kind];
      if (lifetime !== null) {
        timers.current.set(
          id,
          window.setTimeout(() => dismiss(id), lifetime),
        );
      }
    },
    [dismiss],
  );

  const dismissKey = useCallback((key: string) => {
    setToasts((list) => list.filter((t) => t.key !== key));
  }, []);
  const value = useMemo(() => ({ push, dismiss: dismissKey }), [push, dismissKey]);

  useEffect(() => {
    const pending = timers.current;
    return () => pending.forEach((timer) => window.clearTimeout(timer));
  }, []);

  return (
    <ToastContext.Provider value={value}>
      {children}
      <section className="toasts" aria-label="Notifications" aria-live="polite">
        {toasts.map((t) => (
          <div
            key={t.id}
            className={`toast toast-${t.kind}`}
            role={t.kind === 'error' ? 'alert' : 'status'}
          >
            <div className="toast-text">
              <strong>{t.title}</strong>
              {t.body && <p>{t.body}</p>}
            </div>
            <div className="toast-buttons">
              {t.action && (
                <button
                  className="button small"
                  type="button"
                  onClick={() => {
                    t.action?.run();
                    dismiss(t.id);
                  }}
                >
                  {t.action.label}
                </button>
              )}
              <button
                className="icon-button"
                type="button"
                aria-label="Dismiss"
                onClick={() => dismiss(t.id)}
              >
                ×
              </button>
            </div>
          </div>
        ))}
      </section>
    </ToastContext.Provider>
  );
}

/** Shows a toast; for news from elsewhere (live events) and failures of actions without a form. */
export function useToast(): (toast: ToastInput) => void {
  return useToasts().push;
}

/** Shows toasts and removes keyed ones that are no longer true. */
export function useToasts(): Toasts {
  const toasts = useContext(ToastContext);
  if (!toasts) throw new Error('useToast outside ToastProvider');
  return toasts;
}
