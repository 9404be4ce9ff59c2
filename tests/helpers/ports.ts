/** Ports for tests: a free one for servers the tests start (nothing listens on it yet), and one that records who connects. */
import { createServer, type Server, type Socket } from 'node:net';

/** A port that was free a moment ago and has nothing listening on it now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The same thing, named for negative tests: connecting to it is refused. */
export const closedPort = freePort;

export interface ConnectionRecorder {
  port: number;
  /** How many TCP connections were accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

/** A listening port that accepts and counts connections but never answers (proves "never connected"). */
export async function connectionRecorder(): Promise<ConnectionRecorder> {
  let count = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    count++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    connections: () => count,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
