// The workers' Prometheus text expositions as one: the primary's /metrics.

/**
 * Sums Prometheus text expositions sample by sample (same name and labels:
 * counters, histogram buckets, sums and counts, and up-down counters all
 * add up). `*_info` gauges (target_info, otel_scope_info) are kept once.
 */
export function mergePrometheus(texts: string[]): string {
  const families = new Map<string, { meta: string[]; samples: Map<string, number>; info: boolean }>();
  const familyOf = (sample: string): string => {
    const name = /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(sample)?.[0] ?? sample;
    for (const suffix of ["_bucket", "_sum", "_count"]) {
      if (name.endsWith(suffix) && families.has(name.slice(0, -suffix.length))) return name.slice(0, -suffix.length);
    }
    return name;
  };
  const get = (name: string): { meta: string[]; samples: Map<string, number>; info: boolean } => {
    let f = families.get(name);
    if (!f) {
      f = { meta: [], samples: new Map(), info: name.endsWith("_info") };
      families.set(name, f);
    }
    return f;
  };
  for (const text of texts) {
    const seenMeta = new Set<string>();
    for (const line of text.split("\n")) {
      if (line === "") continue;
      if (line.startsWith("#")) {
        const m = /^# (HELP|TYPE|UNIT) (\S+)/.exec(line);
        if (!m) continue;
        const f = get(m[2]);
        if (!seenMeta.has(line) && !f.meta.includes(line)) f.meta.push(line);
        seenMeta.add(line);
        continue;
      }
      // name{labels} value [timestamp]: labels may hold spaces inside quotes.
      const close = line.lastIndexOf("}");
      const cut = close >= 0 ? close + 1 : line.indexOf(" ");
      const key = line.slice(0, cut);
      const value = Number(line.slice(cut).trim().split(/\s+/)[0]);
      const f = get(familyOf(key));
      const had = f.samples.get(key);
      if (had === undefined) f.samples.set(key, value);
      else if (!f.info) f.samples.set(key, had + value);
    }
  }
  const out: string[] = [];
  for (const f of families.values()) {
    out.push(...f.meta);
    for (const [key, v] of f.samples) out.push(`${key} ${Number.isInteger(v) ? v : String(v)}`);
    out.push("");
  }
  return out.join("\n");
}

/** The exposition without its gauge families: what of a dead worker still counts (its counters and histograms). */
export function withoutGauges(text: string): string {
  const gauges = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) gauge$/gm)) gauges.add(m[1]);
  return text
    .split("\n")
    .filter((line) => {
      const name = line.startsWith("#") ? /^# \S+ (\S+)/.exec(line)?.[1] : /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(line)?.[0];
      return name === undefined || !gauges.has(name);
    })
    .join("\n");
}
