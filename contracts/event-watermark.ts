/**
 * How far a client has read one project's event log. The log's `seq`s are consecutive and
 * committed in order (docs/architecture.md, "Events and cache"), but live events may arrive out
 * of order and a catch-up may overlap them: the watermark is the highest `seq` up to which every
 * event has arrived, and the point to catch up from after a lost connection or a gap.
 */
export class EventWatermark {
  /** Events that arrived beyond the watermark, with some before them still missing. */
  private readonly ahead = new Set<number>();

  constructor(
    /** Every event up to this `seq` has been seen (or was there before the client started). */
    public upTo: number | undefined = undefined,
  ) {}

  /** Whether the event with this `seq` has arrived already. */
  has(seq: number): boolean {
    return (this.upTo !== undefined && seq <= this.upTo) || this.ahead.has(seq);
  }

  /** Whether the event is new (not seen before); moves the watermark when it closes a gap. */
  accept(seq: number): boolean {
    if (this.has(seq)) return false;
    this.ahead.add(seq);
    this.advance();
    return true;
  }

  /**
   * Where the client starts, when it learns it (the log's head when it subscribed): events up to
   * there are part of what it loads, and earlier arrivals beyond it still count.
   */
  start(seq: number): void {
    if (this.upTo !== undefined && this.upTo >= seq) return;
    this.upTo = seq;
    for (const s of this.ahead) if (s <= seq) this.ahead.delete(s);
    this.advance();
  }

  /** Whether some event before the latest one seen has not arrived yet. */
  get gap(): boolean {
    return this.ahead.size > 0;
  }

  private advance(): void {
    if (this.upTo === undefined) return;
    while (this.ahead.delete(this.upTo + 1)) this.upTo += 1;
  }
}
