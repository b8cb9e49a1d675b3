// W3C trace context on upstream requests, through @opentelemetry/api when the
// application has it (an optional peer dependency: never a hard requirement).
// The API's global propagator decides the headers (traceparent, tracestate,
// baggage); with no SDK registered it injects nothing.

export type HeaderInjector = (headers: Record<string, string>) => void;

interface OtelApi {
  context: { active(): unknown };
  propagation: { inject(context: unknown, carrier: Record<string, string>): void };
}

// A variable specifier: the module is looked up at run time only.
const OTEL_API = "@opentelemetry/api";
let loaded: Promise<HeaderInjector | undefined> | undefined;

/** The injector of @opentelemetry/api, or undefined when the package is not installed. */
export function otelInjector(): Promise<HeaderInjector | undefined> {
  loaded ??= import(OTEL_API).then(
    (m: Partial<OtelApi> & { default?: Partial<OtelApi> }) => {
      const api = m.propagation && m.context ? m : m.default;
      if (!api?.propagation || !api.context) return undefined;
      const { propagation, context } = api as OtelApi;
      return (headers: Record<string, string>) => propagation.inject(context.active(), headers);
    },
    () => undefined,
  );
  return loaded;
}
