/**
 * Waits for `p` at most `ms`; past that, fails with `what` and whatever `context()` tells about
 * the state of things, so a stuck end-to-end test says where it stopped instead of timing out
 * with nothing to read.
 */
export async function within<T>(
  what: string,
  ms: number,
  p: Promise<T>,
  context: () => unknown = () => undefined,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} not done in ${ms} ms; ${JSON.stringify(context())}`)),
      ms,
    );
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}
