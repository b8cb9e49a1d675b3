// UDP socket helpers shared by session connections and the socket pool:
// an address lookup that answers IP literals at once, and binding an
// ephemeral port (or one from the session port range).

import type { Socket } from "node:dgram";
import { TftpError, WireError } from "@tftpkit/wasm-core";

/**
 * Peers are always IP literals: answer the address lookup dgram makes before
 * every send at once, instead of through dns.lookup and a nextTick.
 */
export function literalLookup(
  address: string,
  family: unknown,
  callback: (err: Error | null, address: string, family: number) => void,
): void {
  callback(null, address, address.includes(":") ? 6 : 4);
}

export function bindEphemeral(socket: Socket, address: string | undefined, range: readonly [number, number] | undefined): Promise<void> {
  if (!range) return new Promise((resolve) => socket.bind({ port: 0, address, exclusive: true }, resolve));
  const [lo, hi] = range;
  const span = hi - lo + 1;
  const start = Math.floor(Math.random() * span);
  return new Promise((resolve, reject) => {
    let tries = 0;
    const attempt = (): void => {
      if (tries >= Math.min(span, 64)) return reject(new TftpError(WireError.UNDEFINED, "No free port in the session port range"));
      const port = lo + ((start + tries) % span);
      tries++;
      const onError = (err: NodeJS.ErrnoException): void => {
        if (err.code === "EADDRINUSE") attempt();
        else reject(err);
      };
      socket.once("error", onError);
      socket.bind({ port, address, exclusive: true }, () => {
        socket.off("error", onError);
        resolve();
      });
    };
    attempt();
  });
}
