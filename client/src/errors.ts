/** A refusal by the server: the contract's error code (PROTOCOL §3) and its message. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    message: string,
    /** the HTTP status, on REST */
    readonly status?: number,
    /** on 20009: when the server said to try again */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms));
