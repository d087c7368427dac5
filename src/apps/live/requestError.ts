/** A failure a signaling request answers with (code + message); anything else is an internal error. */
export class RequestError extends Error {
  readonly code: 'E_STATE' | 'E_NOT_FOUND' | 'E_AUTH' | 'E_MEDIA';
  constructor(code: RequestError['code'], message: string) {
    super(message);
    this.name = 'RequestError';
    this.code = code;
  }
}

/** A wrong token: answered with E_AUTH, then the connection is closed (1008). */
export class AuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuthError';
  }
}

/** Runs a mediasoup call; its validation errors (TypeError, …) become E_MEDIA answers. */
export async function mediaCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw new RequestError('E_MEDIA', (e as Error).message.slice(0, 300));
  }
}
