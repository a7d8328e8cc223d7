/**
 * Sends one statement at a time, and the requests queued while it runs go together in the next:
 * a lone request goes at once, so an idle service waits for nothing, and a busy one spends one
 * round trip, one parse and one plan on many requests. `send` answers every request of its batch;
 * `take` removes from `waiting` the requests the next statement carries.
 *
 * A statement still running after `stallMs` (a connection gone silent waits for TCP to give up,
 * minutes) no longer holds the queue: the next batch goes, and only the stalled batch's callers
 * keep waiting, as they would without batching.
 */
export class OneStatementAtATime<Request> {
  private readonly waiting: Request[] = [];
  private running = false;

  constructor(
    private readonly send: (batch: Request[]) => Promise<void>,
    private readonly take: (waiting: Request[]) => Request[],
    private readonly stallMs = 2_000,
  ) {}

  queue(request: Request): void {
    this.waiting.push(request);
    this.sendWaiting();
  }

  private sendWaiting(): void {
    if (this.running || this.waiting.length === 0) return;
    const batch = this.take(this.waiting);
    this.running = true;
    let released = false;
    // Moves the queue on once per statement: when it ends or stalls, whichever comes first.
    const release = () => {
      clearTimeout(stall);
      if (released) return;
      released = true;
      this.running = false;
      this.sendWaiting();
    };
    const stall = setTimeout(release, this.stallMs);
    // `send` answers its callers itself, failures included; this only moves the queue on.
    void this.send(batch).then(release, release);
  }
}
