/**
 * `@tftpkit/http-kit`: the HTTP plumbing tftpkit's admin API and its fleet
 * view share: binding a server with a clean close, and the Host check.
 *
 * @packageDocumentation
 */

export { listenHttp, type HttpAddress, type ListeningHttp } from "./listen.js";
export { hostAllowed, hostName } from "./host.js";
