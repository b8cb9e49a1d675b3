// Module resolution hooks for handler modules (registered by
// handler-module.ts through `module.register`, so they run in Node's loader
// thread).
//
// A handler usually lives outside tftpkit's installation, for example
// /etc/tftpkit/handler.js, where `import { httpSource } from "@tftpkit/handler-kit"`
// finds no node_modules folder. When the normal resolution of a bare
// specifier fails, it is tried once more from tftpkit's own installation, so
// a handler can use the packages tftpkit ships (@tftpkit/server,
// @tftpkit/handler-kit, @opentelemetry/api) without an npm project of its own.
// A package the handler's own folder provides always wins.

interface ResolveContext {
  parentURL?: string;
  conditions?: readonly string[];
  importAttributes?: Record<string, string>;
}
type NextResolve = (specifier: string, context?: ResolveContext) => Promise<unknown>;

const FROM_TFTPKIT = import.meta.url;

function isBare(specifier: string): boolean {
  return !/^(?:\.{0,2}\/|[a-zA-Z][a-zA-Z0-9+.-]*:)/.test(specifier);
}

export async function resolve(specifier: string, context: ResolveContext, next: NextResolve): Promise<unknown> {
  try {
    return await next(specifier, context);
  } catch (err) {
    const code = (err as { code?: string } | null)?.code;
    const parent = context.parentURL ?? "";
    if (code !== "ERR_MODULE_NOT_FOUND" || !isBare(specifier) || !parent.startsWith("file:") || parent === FROM_TFTPKIT) {
      throw err;
    }
    return next(specifier, { ...context, parentURL: FROM_TFTPKIT });
  }
}
