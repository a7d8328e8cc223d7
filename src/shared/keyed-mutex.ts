/** Runs tasks with the same key one after another, tasks with different keys concurrently. */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key);
    // A key nobody holds starts at once: most keys are free, and a resolved promise to wait on
    // first cost every call a turn of the microtask queue.
    const result = previous ? previous.then(task, task) : task();
    // eslint-disable-next-line no-restricted-syntax -- the caller sees the failure through `result`; the tail only orders the next task
    const tail = result.catch(() => {});
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}
