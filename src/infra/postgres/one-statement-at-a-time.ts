/**
 * Sends one statement at a time, and the requests queued while it runs go together in the next:
 * a lone request goes at once, so an idle service waits for nothing, and a busy one spends one
 * round trip, one parse and one plan on many requests. `send` answers every request of its batch
 * and never rejects; `take` removes from `waiting` the requests the next statement carries.
 */
export class OneStatementAtATime<Request> {
  private readonly waiting: Request[] = [];
  private running = false;

  constructor(
    private readonly send: (batch: Request[]) => Promise<void>,
    private readonly take: (waiting: Request[]) => Request[],
  ) {}

  queue(request: Request): void {
    this.waiting.push(request);
    this.sendWaiting();
  }

  private sendWaiting(): void {
    if (this.running || this.waiting.length === 0) return;
    this.running = true;
    void this.send(this.take(this.waiting)).finally(() => {
      this.running = false;
      this.sendWaiting();
    });
  }
}
