/** Runs `send`, rejecting when it has not settled within `timeoutMs`. */
export async function withTimeout<T>(send: () => Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs}ms`)), timeoutMs);
  });
  try {
    return await Promise.race([send(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
