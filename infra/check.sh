#!/usr/bin/env bash
# Checks the files of infra/: Prometheus config and rules (promtool), the
# collector config (YAML, and every pipeline component defined), the Grafana
# dashboard (JSON). Needs promtool (apt prometheus) and python3 with PyYAML.
set -euo pipefail
cd "$(dirname "$0")"

promtool check config prometheus.yml
promtool check rules tftpkit.rules.yml

python3 - <<'PY'
import json, sys, yaml

c = yaml.safe_load(open("otel-collector.yaml"))
bad = []
for name, p in c["service"]["pipelines"].items():
    for kind in ("receivers", "processors", "exporters"):
        for comp in p.get(kind, []):
            if comp not in (c.get(kind) or {}):
                bad.append(f"pipeline {name}: {kind[:-1]} {comp} is not defined")
for ext in c["service"].get("extensions", []):
    if ext not in (c.get("extensions") or {}):
        bad.append(f"extension {ext} is not defined")
if bad:
    sys.exit("otel-collector.yaml: " + "; ".join(bad))
print("otel-collector.yaml: OK (%d pipelines)" % len(c["service"]["pipelines"]))

d = json.load(open("grafana/tftpkit-dashboard.json"))
exprs = [t["expr"] for p in d["panels"] for t in p["targets"]]
ids = [p["id"] for p in d["panels"]]
if len(ids) != len(set(ids)):
    sys.exit("dashboard: duplicate panel ids")
print("grafana/tftpkit-dashboard.json: OK (%d panels, %d queries)" % (len(d["panels"]), len(exprs)))
PY
