import { connect, createServer, type Server, type Socket } from "node:net";

export interface TcpProxy {
  /** Port on 127.0.0.1 that forwards to the target. */
  readonly port: number;
  /** Rewrite a PostgreSQL URL to go through the proxy. */
  url(databaseUrl: string): string;
  /** Stop forwarding bytes in both directions without closing anything: a half-open connection. */
  freeze(): void;
  /** Forward again (new connections work; frozen bytes were dropped). */
  thaw(): void;
  close(): Promise<void>;
}

/** A loopback TCP proxy for fault tests: it can silently black-hole traffic like a dead network path. */
export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  let frozen = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, targetHost);
    sockets.add(client);
    sockets.add(upstream);
    const forward = (from: Socket, to: Socket) =>
      from.on("data", (chunk) => {
        if (!frozen) to.write(chunk);
      });
    forward(client, upstream);
    forward(upstream, client);
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("close", close).on("error", close);
    upstream.on("close", close).on("error", close);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    port,
    url(databaseUrl) {
      const parsed = new URL(databaseUrl);
      parsed.hostname = "127.0.0.1";
      parsed.port = String(port);
      return parsed.toString();
    },
    freeze() {
      frozen = true;
    },
    thaw() {
      frozen = false;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
