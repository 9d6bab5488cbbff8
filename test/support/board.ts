import { io as connectSocket } from 'socket.io-client';
import type { Socket } from 'socket.io-client';
import type { DeliveredEvent, EventEnvelope, EventType } from '../../contracts/events';

/** An event as a test looks at it: its name plus every field it carried. */
export type SeenEvent = EventEnvelope & {
  type: EventType;
  taskId?: string | null;
  [field: string]: unknown;
};

/** A socket.io client the way the board uses it: authenticated, subscribed to one project, collecting events. */
export class TestBoard {
  readonly events: SeenEvent[] = [];
  private constructor(readonly socket: Socket) {
    socket.onAny((type: EventType, data: DeliveredEvent) => this.events.push({ ...data, type }));
  }

  static async connect(url: string, token: string): Promise<TestBoard> {
    const socket = connectSocket(url, {
      auth: { token },
      transports: ['websocket'],
      reconnection: false,
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    return new TestBoard(socket);
  }

  async subscribe(projectId: string, afterSeq?: number): Promise<unknown> {
    return await this.socket
      .timeout(10_000)
      .emitWithAck('subscribe', { projectId, ...(afterSeq === undefined ? {} : { afterSeq }) });
  }

  /** Resolves once an event matching `match` has arrived (including ones already seen). */
  async waitFor(match: (e: SeenEvent) => boolean, timeoutMs = 15_000): Promise<SeenEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(match);
      if (found) return found;
      if (Date.now() > deadline)
        throw new Error(
          `no matching event within ${timeoutMs} ms; saw ${JSON.stringify(this.events.map((e) => e.type))}`,
        );
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  close(): void {
    this.socket.close();
  }
}
