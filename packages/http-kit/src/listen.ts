// Binding an HTTP server for the admin API and the fleet view alike: resolves
// once it listens (rejects on EADDRINUSE and the like), with the bound
// address (the port resolved when 0 was asked) and its URL; close() runs the
// owner's own clean-up first (event streams), then ends every connection.

import type { Server } from "node:http";
import { isIPv6 } from "node:net";

export interface HttpAddress {
  host: string;
  port: number;
}

export interface ListeningHttp {
  address: HttpAddress;
  /** `http://host:port` (IPv6 in brackets). */
  url: string;
  close(): Promise<void>;
}

export async function listenHttp(server: Server, host: string, port: number, beforeClose: () => void = () => {}): Promise<ListeningHttp> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const a = server.address();
  const address = typeof a === "object" && a ? { host: a.address, port: a.port } : { host, port };
  return {
    address,
    url: `http://${isIPv6(address.host) ? `[${address.host}]` : address.host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        beforeClose();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
