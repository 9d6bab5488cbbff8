import { io as connectSocket } from 'socket.io-client';
import type { Socket } from 'socket.io-client';
import { EventWatermark } from '../../contracts/event-watermark';
import { RESYNC_EVENT } from '../../contracts/events';
import type { DeliveredEvent, EventEnvelope, EventType } from '../../contracts/events';

/** How long a logged event may take to arrive live before the poll takes it from the log. */
const LIVE_GRACE_MS = 3000;
/** How long to wait before connecting again after the server closed the connection (as the board). */
const SERVER_CLOSE_RETRY_MS = 1000;
/** How long an event may stay missing behind later ones before the board catches up (as the board's). */
const GAP_WAIT_MS = 2000;

/** An event as a test looks at it: its name plus every field it carried. */
export type SeenEvent = EventEnvelope & {
  type: EventType;
  taskId?: string | null;
  [field: string]: unknown;
};

/**
 * A socket.io client the way the board uses it: authenticated, subscribed to projects,
 * collecting events. Like the board, it reconnects after a lost connection, catches up from its
 * watermark in each project's log (after a reconnect, or when an event stays missing behind later
 * ones), and drops an event it has already seen.
 */
export class TestBoard {
  readonly events: SeenEvent[] = [];
  /** Why the connection was lost, each time it was, and resyncs the server asked for. */
  readonly disconnects: string[] = [];
  /** How far each subscribed project's log has arrived. */
  private readonly projects = new Map<string, EventWatermark>();
  private gapCheck: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private readonly listeners = new Map<string, Array<(e: SeenEvent) => void>>();

  /** Events that arrived only through the poll of the event log, not live. */
  readonly polled: string[] = [];
  private poller: NodeJS.Timeout | undefined;

  private constructor(
    readonly socket: Socket,
    private readonly api: { url: string; token: string },
  ) {
    socket.onAny((type: EventType, data: DeliveredEvent) => {
      if ((type as string) !== RESYNC_EVENT) this.receive(type, data);
    });
    socket.on('disconnect', (reason) => {
      this.disconnects.push(reason);
      // socket.io reconnects by itself except when the server closed the connection on purpose
      // (a person's memberships changed): then, like the board, connect again.
      if (reason === 'io server disconnect') {
        this.retry = setTimeout(() => socket.connect(), SERVER_CLOSE_RETRY_MS);
      }
    });
    socket.on(RESYNC_EVENT, () => {
      this.disconnects.push('resync asked by the server');
      void this.catchUp();
    });
    // Built once connected: every later connection is a reconnection, and catches up.
    socket.on('connect', () => void this.catchUp());
  }

  /**
   * Connects a board. With `poll`, it also reads the project's event log every second and takes
   * what it has not seen: for tests whose board stands in for a person driving a flow, so a
   * live event that never arrives does not stall the flow (each one is recorded in `polled`
   * and reported). Tests of live delivery itself leave it off.
   */
  static async connect(
    url: string,
    token: string,
    opts: { poll?: boolean } = {},
  ): Promise<TestBoard> {
    const socket = connectSocket(url, {
      auth: { token },
      transports: ['websocket'],
      reconnectionDelay: 200,
      reconnectionDelayMax: 1000,
    });
    await new Promise<void>((resolve, reject) => {
      const failed = (err: Error) => {
        socket.close();
        reject(err);
      };
      socket.once('connect', () => {
        // Only the first connection may fail the board: later, a reconnection attempt that
        // fails (the server is restarting) is retried by socket.io.
        socket.off('connect_error', failed);
        resolve();
      });
      socket.once('connect_error', failed);
    });
    const board = new TestBoard(socket, { url, token });
    if (opts.poll) board.poller = setInterval(() => void board.poll(), 1000);
    return board;
  }

  async subscribe(projectId: string, afterSeq?: number): Promise<unknown> {
    // Without afterSeq, what the project logged before now is not this board's to see.
    if (!this.projects.has(projectId)) {
      this.projects.set(
        projectId,
        new EventWatermark(afterSeq ?? (this.poller ? await this.head(projectId) : undefined)),
      );
    }
    const ack = (await this.socket.timeout(10_000).emitWithAck('subscribe', {
      projectId,
      ...(afterSeq === undefined ? {} : { afterSeq }),
    })) as {
      latestSeq?: number;
    };
    if (afterSeq === undefined && typeof ack?.latestSeq === 'number') {
      this.projects.get(projectId)!.start(ack.latestSeq);
    }
    return ack;
  }

  /** Calls `handler` for each new event of `type` (once per event, replays included). */
  on<T = SeenEvent>(type: EventType, handler: (e: T) => void): void {
    const list = this.listeners.get(type) ?? [];
    list.push(handler as unknown as (e: SeenEvent) => void);
    this.listeners.set(type, list);
  }

  /** Resolves once an event matching `match` has arrived (including ones already seen). */
  async waitFor(match: (e: SeenEvent) => boolean, timeoutMs = 15_000): Promise<SeenEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(match);
      if (found) return found;
      if (Date.now() > deadline)
        throw new Error(
          `no matching event within ${timeoutMs} ms; saw ${JSON.stringify(this.events.map((e) => e.type))}; ` +
            `connection lost ${this.disconnects.length} time(s) ${JSON.stringify(this.disconnects)}`,
        );
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  close(): void {
    clearInterval(this.poller);
    clearTimeout(this.gapCheck);
    clearTimeout(this.retry);
    if (this.polled.length) {
      console.warn(
        `the board got ${this.polled.length} event(s) only from the event log, not live: ` +
          `${this.polled.slice(0, 10).join(', ')}; connection: ${JSON.stringify(this.disconnects)}`,
      );
    }
    this.socket.close();
  }

  /** The seq of the project's latest logged event (0 when there is none). */
  private async head(projectId: string): Promise<number> {
    let after = 0;
    for (;;) {
      const page = await this.readLog(projectId, after);
      if (!page?.events.length) return after;
      after = page.events[page.events.length - 1]!.data.seq;
      if (!page.more) return after;
    }
  }

  private async readLog(
    projectId: string,
    after: number,
  ): Promise<{ events: Array<{ type: EventType; data: DeliveredEvent }>; more: boolean } | null> {
    const res = await fetch(`${this.api.url}/api/projects/${projectId}/events?after=${after}`, {
      headers: { authorization: `Bearer ${this.api.token}` },
    }).catch(() => null);
    if (!res?.ok) return null;
    return (await res.json()) as {
      events: Array<{ type: EventType; data: DeliveredEvent }>;
      more: boolean;
    };
  }

  private async poll(): Promise<void> {
    for (const [projectId, mark] of this.projects) {
      const page = await this.readLog(projectId, mark.upTo ?? 0);
      for (const e of page?.events ?? []) {
        if (mark.has(e.data.seq)) continue;
        // A fresh event may still be on its way live; only a late one counts as missed.
        if (Date.now() - Date.parse(e.data.at) < LIVE_GRACE_MS) break;
        this.polled.push(`${e.type} #${e.data.seq}`);
        this.receive(e.type, e.data);
      }
    }
  }

  private receive(type: EventType, data: DeliveredEvent): void {
    const mark = this.projects.get(data?.projectId);
    if (mark && typeof data?.seq === 'number') {
      if (!mark.accept(data.seq)) return;
      // An event before this one has not come: if it still has not in a moment, catch up.
      if (mark.gap && this.gapCheck === undefined) {
        this.gapCheck = setTimeout(() => {
          this.gapCheck = undefined;
          if ([...this.projects.values()].some((m) => m.gap)) void this.catchUp();
        }, GAP_WAIT_MS);
      }
    }
    const event = { ...data, type } as SeenEvent;
    this.events.push(event);
    for (const handler of this.listeners.get(type) ?? []) handler(event);
  }

  /** After a reconnect or a gap: subscribe again from each project's watermark, page by page. */
  private async catchUp(): Promise<void> {
    for (const [projectId, mark] of this.projects) {
      for (;;) {
        const ack = (await this.socket
          .timeout(10_000)
          .emitWithAck('subscribe', { projectId, afterSeq: mark.upTo ?? 0 })
          .catch(() => null)) as { more?: boolean } | null;
        if (!ack?.more) break;
      }
    }
  }
}
