/** Error codes of the contract (PROTOCOL.md §3). */
export const ErrorCode = {
  OK: 0,
  AUTH_FAILED: 20001,
  MISS_PARAMS: 20002,
  CHAT_FAILED: 20003,
  DUPLICATE_CLIENT: 20004,
  USER_NOT_EXIST: 20005,
  CODE_EXPIRED: 20006,
  CODE_VALID_FAILED: 20007,
  FILE_ERROR: 20008,
  RATE_LIMITED: 20009,
  DUPLICATE_VALUE: 10004,
  NOT_FOUND: 10005,
  FORBIDDEN: 10006,
  SERVER_ERROR: 50000,
} as const;

export type ErrorCodeValue = typeof ErrorCode[keyof typeof ErrorCode];

/** HTTP status that goes with each code on REST, unless the thrower says otherwise. */
const defaultStatus: Record<number, number> = {
  20001: 401, 20002: 400, 20003: 403, 20004: 409, 20005: 404, 20006: 404, 20007: 401,
  20008: 400, 20009: 429, 10004: 409, 10005: 404, 10006: 403, 50000: 500,
};

/** The HTTP status a code is answered with on REST (unless its thrower chose another). */
export const httpStatusOf = (code: number): number => defaultStatus[code] ?? 400;

/** The name of each code (PROTOCOL §3), for documents and logs. */
export const errorName = (code: number): string => Object.entries(ErrorCode).find(([ , v ]) => v === code)?.[0] ?? String(code);

/**
 * A refusal the client should see: thrown by services, turned into the HTTP envelope by the
 * error_handler middleware and into `im_error` (or the ack) by socket controllers.
 */
export class AppError extends Error {
  readonly code: ErrorCodeValue;
  readonly status: number;
  /** on 20009: when the client may try again (`meta.retryAfterMs` on sockets, `Retry-After` on REST) */
  retryAfterMs?: number;

  constructor(code: ErrorCodeValue, message: string, status?: number) {
    // a refusal is an answer, not a fault: no stack trace (capturing one was a sixth of the CPU of a
    // flood being shed, bench:flood); 50000s keep theirs for the log
    const limit = Error.stackTraceLimit;
    if (code !== ErrorCode.SERVER_ERROR) Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
    this.name = 'AppError';
    this.code = code;
    this.status = status ?? httpStatusOf(code);
  }
}

export const isAppError = (err: unknown): err is AppError => err instanceof AppError;

/** 429 / 20009 telling the client when to come back. */
export function tooManyRequests(retryAfterMs: number, message = 'too many requests, try again later') {
  const err = new AppError(ErrorCode.RATE_LIMITED, message);
  err.retryAfterMs = Math.max(1, Math.ceil(retryAfterMs));
  return err;
}
