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

/** The error a connected UDP socket reports after an ICMP port unreachable: nobody listens on the peer's port. */
export function isPortUnreachable(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === "ECONNREFUSED";
}

/** The errors a connected UDP socket reports after an ICMP destination unreachable (not a broken socket). */
export function isUnreachable(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === "ECONNREFUSED" || code === "EHOSTUNREACH" || code === "ENETUNREACH";
}

/** A session socket's peer, and whether the socket is (to be) connected to it. */
export interface SessionLink {
  port: number;
  address: string;
  /** Connect at the next send to the peer. */
  connect: boolean;
  connected: boolean;
}

/** A link that never connects (frozen: with connect false sessionSend never writes it): every packet goes to its address, as from the shared listening socket. */
export const UNCONNECTED: SessionLink = Object.freeze({ port: 0, address: "", connect: false, connected: false });

/**
 * Sends on a session socket. With `link.connect`, the next send to the peer
 * connects the socket to it: a connected socket's sends skip the address
 * lookup and the kernel's route lookup, and the kernel no longer delivers
 * strangers' packets to it (they get ICMP port unreachable, as with
 * tftpd-hpa, instead of ERROR 5). A packet for another address (ERROR 5 to
 * a stranger whose packet was queued before the connect) cannot leave a
 * connected socket and is not sent. Returns false when the socket is closed
 * (shutting down).
 */
export function sessionSend(
  socket: Socket,
  link: SessionLink,
  buf: Uint8Array, offset: number, length: number, port: number, address: string,
  callback?: () => void,
): boolean {
  try {
    if (link.connect && port === link.port && address === link.address) {
      if (!link.connected) {
        socket.connect(port, address); // literalLookup: connected before this returns
        link.connected = true;
      }
      socket.send(buf, offset, length, callback);
    } else if (!link.connected) {
      socket.send(buf, offset, length, port, address, callback);
    }
    return true;
  } catch {
    return false;
  }
}

/** Undoes sessionSend's connect (a pooled socket going back to the pool). */
export function disconnectSession(socket: Socket, state: { connected: boolean }): void {
  if (!state.connected) return;
  state.connected = false;
  try {
    socket.disconnect();
  } catch {
    // closed meanwhile
  }
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
