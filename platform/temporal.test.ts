import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { loadConfig } from './config';
import { createTemporalClient } from './temporal';

/** A port nothing listens on: every call to it fails with UNAVAILABLE, which the client retries. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('the Temporal client of a process', () => {
  it('closes while a call is between retries: the call fails, nothing throws later', async () => {
    const env = loadConfig(process.env);
    const port = await deadPort();
    const temporal = createTemporalClient({
      temporal: {
        ...env.temporal,
        address: `127.0.0.1:${port}`,
        tls: null,
        apiKey: undefined,
      },
    });
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      const call = temporal.connection.workflowService
        .describeNamespace({ namespace: 'default' })
        .then(
          () => 'answered',
          (err: { code?: number }) => err.code,
        );
      // The first attempts have failed and a retry is waiting on its timer.
      await new Promise((r) => setTimeout(r, 400));
      await temporal.close();
      expect(await call).toBe(14); // UNAVAILABLE, without another try
      // Any retry timer left behind would fire (and throw) within the SDK's longest delay.
      await new Promise((r) => setTimeout(r, 1000));
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });
});
