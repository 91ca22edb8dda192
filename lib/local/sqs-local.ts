// The in-process SQS-compatible server (local-aws-sqs), bound to loopback on a free port.
import type { AddressInfo } from 'node:net';
import { createSqsServer } from 'local-aws-sqs';

export interface SqsLocal {
  endpoint: string;
  port: number;
  stop(): Promise<void>;
}

export async function startSqsLocal(o: { port?: number; host?: string } = {}): Promise<SqsLocal> {
  const host = o.host ?? '127.0.0.1';
  // createSqsServer listens before it resolves; port 0 lets the OS pick a free port
  const server = await createSqsServer({ port: o.port ?? 0, hostname: host, emulateQueueCreationLifecycle: false });
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://${host}:${port}`,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
