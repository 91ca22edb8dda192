// An SQS-compatible server in this process (local-aws-sqs). We build the http server around its
// request handler ourselves instead of calling createSqsServer: that one never rejects when listen
// fails (the 'error' event goes unhandled and kills the process), and its queue URLs carry the port
// it was given, so with port 0 we must set the bound port before any queue is created.
import { createServer, type Server } from 'node:http';
import { createRequestHandler } from 'local-aws-sqs';

export interface SqsLocalOptions {
  /** 0 or omitted: a free port */
  port?: number;
  /** default 127.0.0.1 */
  host?: string;
}

export interface SqsLocal {
  endpoint: string;
  port: number;
  stop(): Promise<void>;
}

export async function startSqsLocal(opts: SqsLocalOptions = {}): Promise<SqsLocal> {
  const host = opts.host ?? '127.0.0.1';
  const { service, requestHandler } = createRequestHandler({
    port: opts.port ?? 0,
    hostname: host,
    // AWS makes you wait 60 s before re-creating a deleted queue's name; tests and restarts must not
    emulateQueueCreationLifecycle: false,
  });
  const server = createServer((req, res) => void requestHandler(req, res));
  // Agents long-poll for up to 20 s on kept-alive connections.
  server.keepAliveTimeout = 65_000;
  const port = await listen(server, opts.port ?? 0, host);
  service.PORT = port;
  const endpoint = `http://${host}:${port}`;
  return {
    endpoint,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        // pending long polls would hold close() for up to 20 s
        server.close(() => resolve());
        server.closeAllConnections();
        service.resetAll();
      }),
  };
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    });
  });
}
