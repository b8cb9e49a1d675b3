// A tftpkit server on 127.0.0.1 port 0 for the tests, recording finished sessions.

import { createServer, type ReadHandler, type ServerOptions, type SessionStats, type TftpServer } from "@tftpkit/server";

export interface TestTftp {
  port: number;
  server: TftpServer;
  ended: SessionStats[];
  close(): Promise<void>;
}

export async function startTftp(handler: ReadHandler, options: Omit<ServerOptions, "handler"> = {}): Promise<TestTftp> {
  const ended: SessionStats[] = [];
  const server = createServer({
    timeoutSeconds: 0.5,
    retries: 8,
    bindInterfaces: false,
    ...options,
    handler,
    onSessionEnd: (s) => ended.push(s),
  });
  const addr = await server.listen({ host: "127.0.0.1", port: 0 });
  return { port: addr.port, server, ended, close: () => server.close() };
}
