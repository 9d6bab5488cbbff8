/** How many recent `seq`s are remembered for dropping duplicates. */
const REMEMBERED = 5000;

/**
 * The `seq`s seen on one project's subscription. Delivery is at least once (a catch-up replay
 * can overlap live events), so an event whose `seq` was seen is dropped; `last` is where a
 * catch-up after a lost connection starts.
 */
export class SeqTracker {
  private readonly seen = new Set<number>();
  private readonly order: number[] = [];
  last: number | undefined;

  /** Whether the event is new; events without a `seq` (not in the log) always are. */
  accept(seq: unknown): boolean {
    if (typeof seq !== 'number') return true;
    if (this.seen.has(seq)) return false;
    this.seen.add(seq);
    this.order.push(seq);
    if (this.order.length > REMEMBERED) this.seen.delete(this.order.shift()!);
    if (this.last === undefined || seq > this.last) this.last = seq;
    return true;
  }
}
