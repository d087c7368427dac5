/**
 * Polls `poll` every `intervalMs` until it returns something other than undefined, and returns that;
 * throws naming `what` after `timeoutMs`.
 */
export async function pollUntil<T>(what: string, timeoutMs: number, poll: () => Promise<T | undefined>, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await poll();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
