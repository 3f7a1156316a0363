/** Bounded waits: `work`, or a rejection naming `what` once `ms` have passed, whichever comes first. */
export function withinDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} not done within ${ms} ms`)), ms);
    timer.unref?.();
  });
  return Promise.race([ work, deadline ]).finally(() => clearTimeout(timer));
}
