import { useState } from 'react';

const supported = () => typeof window !== 'undefined' && 'Notification' in window;

/**
 * Shows a browser notification for something that needs a person (an agent's question), when
 * they allowed it and the board is not in front of them; the toast covers the other case.
 */
export function notifyBrowser(input: {
  title: string;
  body: string;
  tag: string;
  onClick: () => void;
}): void {
  if (!supported() || Notification.permission !== 'granted') return;
  if (document.visibilityState === 'visible' && document.hasFocus()) return;
  const n = new Notification(input.title, { body: input.body, tag: input.tag });
  n.onclick = () => {
    window.focus();
    input.onClick();
    n.close();
  };
}

/** Asks the browser for permission to notify, until the person has answered either way. */
export function NotificationsButton() {
  const [permission, setPermission] = useState(() =>
    supported() ? Notification.permission : 'denied',
  );
  if (permission !== 'default') return null;
  return (
    <button
      className="button ghost"
      type="button"
      title="Be told when an agent asks a question, even in another tab"
      onClick={() => void Notification.requestPermission().then(setPermission)}
    >
      Turn on notifications
    </button>
  );
}
