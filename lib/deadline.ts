/** Work that was not done within its deadline: the server is busy (or what it waits for is). */
export class DeadlineError extends Error {
  constructor(readonly what: string, readonly ms: number) {
    super(`${what} not done within ${ms} ms`);
    this.name = 'DeadlineError';
  }
}

/** Bounded waits: `work`, or a `DeadlineError` naming `what` once `ms` have passed, whichever comes first. */
export function withinDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(what, ms)), ms);
    timer.unref?.();
  });
  return Promise.race([ work, deadline ]).finally(() => clearTimeout(timer));
}
