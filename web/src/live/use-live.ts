import { useEffect, useRef, useState } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { io } from 'socket.io-client';
import { keys } from '../api/queries';
import type { LiveEvent, LiveEventType } from '../api/types';
import { navigate } from '../router';
import { useSession } from '../session/session';
import { useToasts } from '../ui/toasts';
import type { ToastInput } from '../ui/toasts';
import { applyEvent } from './apply-event';
import { RESYNC_EVENT } from '../../../contracts/events';
import { EventWatermark } from '../../../contracts/event-watermark';

/** `connecting` before the first subscription, `live` while subscribed, `offline` while reconnecting. */
export type LiveState = 'connecting' | 'live' | 'offline';

type SubscribeAck =
  { ok: true; replayed: number; more: boolean; latestSeq: number } | { error: { message: string } };

/** How long to wait before connecting again after the server closed the connection itself. */
const SERVER_CLOSE_RETRY_MS = 1000;
/** How long an event may stay missing behind later ones before the board catches up from the log. */
const GAP_WAIT_MS = 2000;

/**
 * Keeps the board live for one project: one socket.io connection with the signed-in token,
 * subscribed to the project. After a lost connection, or when an event is still missing behind
 * later ones, it subscribes again from its watermark (every event up to it has arrived), so the
 * server replays what was missed; duplicates are dropped by `seq`.
 */
export function useLive(projectId: string | null): LiveState {
  const { token, signedIn, signOut } = useSession();
  const queryClient = useQueryClient();
  const toasts = useToasts();
  // Kept with the project it is about: right after a switch, the old project's `live` is not news
  // about the new one.
  const [current, setCurrent] = useState<{ projectId: string | null; state: LiveState }>({
    projectId,
    state: 'connecting',
  });
  // The effect below lives as long as the connection; these may change without reconnecting.
  const latest = useRef({ toasts, signOut });
  latest.current = { toasts, signOut };

  useEffect(() => {
    if (!signedIn || !projectId) return;
    const setState = (state: LiveState) => setCurrent({ projectId, state });
    // With the admin token, it goes in the handshake; a person's session cookie goes by itself.
    const socket = io(window.location.origin, token ? { auth: { token } } : {});
    const tracker = new EventWatermark();
    let retry: number | undefined;
    let gapCheck: number | undefined;
    const ctx = {
      queryClient,
      toast: (t: ToastInput) => latest.current.toasts.push(t),
      dismissToast: (key: string) => latest.current.toasts.dismiss(key),
      openTask: (p: string, taskId: string) => navigate({ name: 'board', projectId: p, taskId }),
    };

    const subscribe = () => {
      const afterSeq = tracker.upTo;
      socket
        .timeout(10_000)
        .emit(
          'subscribe',
          { projectId, ...(afterSeq === undefined ? {} : { afterSeq }) },
          (err: Error | null, ack: SubscribeAck) => {
            if (err) {
              // No answer: drop this connection and let socket.io's reconnection try again.
              socket.disconnect().connect();
              return;
            }
            if ('error' in ack) {
              setState('offline');
              latest.current.toasts.push({
                kind: 'error',
                title: 'Live updates are off',
                body: ack.error.message,
              });
              return;
            }
            // The first subscription starts at the log's head (the rest is loaded through the
            // API); a catch-up keeps its watermark, which its replay has moved.
            if (afterSeq === undefined) tracker.start(ack.latestSeq);
            // A replay stops at a page of events: ask for the next one from where it ended.
            if (ack.more && tracker.upTo !== afterSeq) {
              subscribe();
              return;
            }
            setState('live');
            // Whatever changed before this subscription is fetched afresh.
            void queryClient.invalidateQueries({ queryKey: keys.tasks(projectId) });
            void queryClient.invalidateQueries({ queryKey: keys.agents });
          },
        );
    };

    socket.on('connect', subscribe);
    // The server lost its own event feed for a moment: catch up from the log.
    socket.on(RESYNC_EVENT, subscribe);
    socket.on('disconnect', (reason) => {
      setState('offline');
      // socket.io reconnects by itself except when the server closed the connection on purpose.
      if (reason === 'io server disconnect') {
        retry = window.setTimeout(() => socket.connect(), SERVER_CLOSE_RETRY_MS);
      }
    });
    socket.on('connect_error', (err) => {
      setState('offline');
      if (err.message.startsWith('unauthorized')) {
        latest.current.signOut(
          token
            ? 'The server no longer accepts your token. Sign in again.'
            : 'Your session has ended. Sign in again.',
        );
      }
    });
    socket.onAny((type: LiveEventType, event: LiveEvent) => {
      if (event?.projectId !== projectId) return;
      if (typeof event.seq === 'number' && !tracker.accept(event.seq)) return;
      applyEvent(ctx, type, event);
      // An event before this one has not come: if it still has not in a moment, catch up.
      if (tracker.gap && gapCheck === undefined) {
        gapCheck = window.setTimeout(() => {
          gapCheck = undefined;
          if (tracker.gap && socket.connected) subscribe();
        }, GAP_WAIT_MS);
      }
    });

    return () => {
      window.clearTimeout(retry);
      window.clearTimeout(gapCheck);
      socket.off();
      socket.offAny();
      socket.disconnect();
    };
  }, [signedIn, token, projectId, queryClient]);

  return current.projectId === projectId ? current.state : 'connecting';
}
