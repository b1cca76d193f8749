/**
 * Runs tasks one after another per key, tasks of different keys side by side. Keeps the order of work that must
 * not overtake itself across an await (the frames of one call), and forgets a key once its last task is done.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Keys with work queued or running (tests: back to 0 when idle). */
  get size(): number {
    return this.tails.size;
  }
}
