// A free loopback port for a service replica (its PORT on the process runtime, its published host port on
// the docker runtime). The OS picks it (bind to port 0) and the agent lets go before the replica binds it:
// the replica is an arbitrary program that cannot be handed a socket, and docker's `-p` needs a number.
// What is left is a short race with another program binding that very port in between; the replica then
// fails to listen (process runtime: it exits; docker: `docker run` exits 125, the node's fault), its job is
// re-placed, and nothing is charged. Ports still held by this agent's replicas are never handed out twice.
import { createServer } from 'node:net';

/** the ports of the replicas this agent runs now (released when a replica ends) */
const held = new Set<number>();

function bindZero(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** A loopback port no one listens on now and no running replica of this agent holds; `release` it after. */
export async function takeLoopbackPort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await bindZero();
    if (port > 0 && !held.has(port)) {
      held.add(port);
      return port;
    }
  }
  throw new Error('no free loopback port');
}

export function releaseLoopbackPort(port: number | undefined): void {
  if (port !== undefined) held.delete(port);
}
