/**
 * The offsets of one batch, finished in any order, committed only in order: an offset may be
 * resolved once it and every offset before it in the batch are finished.
 */
export class InOrderOffsets {
  private readonly finished = new Set<string>();
  private next = 0;

  constructor(private readonly offsets: readonly string[]) {}

  /** The highest offset that became resolvable with this one, if any did. */
  finish(offset: string): string | undefined {
    this.finished.add(offset);
    const before = this.next;
    while (this.next < this.offsets.length && this.finished.has(this.offsets[this.next]!)) {
      this.next++;
    }
    return this.next > before ? this.offsets[this.next - 1] : undefined;
  }

  /** Finished offsets stuck behind an unfinished one: they will be fetched again. */
  finishedBeyondGap(): string[] {
    return this.offsets.slice(this.next).filter((offset) => this.finished.has(offset));
  }
}
