/**
 * `@tftpkit/handler-kit`: data sources for tftpkit handlers.
 *
 * @packageDocumentation
 */

export { rootSource, type RootSource } from "./root.js";
export { httpSource, HTTP_DEFAULTS, type HttpSource, type HttpSourceOptions } from "./http.js";
export {
  createCache, UpstreamCache, CACHE_DEFAULTS,
  type CacheOptions, type CacheStats, type TierStats,
} from "./cache/cache.js";
export type { UpstreamResponse, Validators } from "./upstream.js";
export { UpstreamError, TemplateError, type UpstreamReason } from "./errors.js";
export { renderTemplate, compileTemplate, Template, type TemplateVars } from "./template.js";
export { clientAddress, ipv4Hex, hexToIpv4, type ClientAddress } from "./client-address.js";
export { parseBootPath, type BootPath, type BootPathKind } from "@tftpkit/server";
export {
  templateSource,
  type TemplateSource, type TemplateSourceOptions, type TemplateContext,
} from "./template-source.js";
export type { HeaderInjector } from "./trace.js";
