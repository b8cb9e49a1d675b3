// infra/kubernetes: every manifest validates against the Kubernetes API
// schemas (kubernetes-models: the published OpenAPI schemas, compiled to
// validators), and the set-ups keep what they promise: a host-network
// DaemonSet for PXE segments and a single-port Deployment behind a UDP
// Service, non-root with only NET_BIND_SERVICE, probes on /healthz, resources,
// Prometheus annotations, the collector from infra/, and config files that
// tftpkit itself accepts.

import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { ConfigMap, Namespace, PersistentVolumeClaim, Service } from "kubernetes-models/v1";
import { DaemonSet, Deployment } from "kubernetes-models/apps/v1";
import { Job } from "kubernetes-models/batch/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { REPO, ok } from "./helpers.js";

const DIR = join(REPO, "infra", "kubernetes");
const BIN = join(REPO, "apps", "server", "bin", "tftpkit.js");
const VERSION = JSON.parse(readFileSync(join(REPO, "apps", "server", "package.json"), "utf8")).version as string;

/** A parsed YAML value: untyped until the kubernetes-models validators below have checked its document. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- YAML documents are walked freely in the assertions
type Yaml = any;

interface Manifest { file: string; apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [k: string]: Yaml }

const MODELS: Record<string, new (data: Yaml) => { validate(): void }> = {
  "v1/ConfigMap": ConfigMap, "v1/Namespace": Namespace, "v1/Service": Service,
  "v1/PersistentVolumeClaim": PersistentVolumeClaim, "apps/v1/DaemonSet": DaemonSet,
  "apps/v1/Deployment": Deployment, "batch/v1/Job": Job, "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
};

const files = readdirSync(DIR).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml");
const manifests: Manifest[] = files.flatMap((file) =>
  parseAllDocuments(readFileSync(join(DIR, file), "utf8")).map((d) => {
    if (d.errors.length) throw new Error(`${file}: ${d.errors[0].message}`);
    return { ...(d.toJS() as Omit<Manifest, "file">), file } as Manifest;
  }));
const find = (kind: string, name: string): Manifest => {
  const m = manifests.find((x) => x.kind === kind && x.metadata.name === name);
  if (!m) throw new Error(`no ${kind} ${name} in infra/kubernetes`);
  return m;
};
const work = mkdtempSync(join(tmpdir(), "tftpkit-k8s-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function tftpkitContainer(m: Manifest): Yaml {
  const c = m.spec.template.spec.containers.find((x: Yaml) => x.name === "tftpkit");
  expect(c, `${m.kind} ${m.metadata.name} has a tftpkit container`).toBeTruthy();
  return c;
}

describe("Kubernetes manifests", () => {
  it("every document validates against the Kubernetes API schema of its kind", () => {
    expect(manifests.length).toBeGreaterThanOrEqual(8);
    for (const m of manifests) {
      const Model = MODELS[`${m.apiVersion}/${m.kind}`];
      expect(Model, `${m.file}: ${m.apiVersion} ${m.kind} has a schema here`).toBeTruthy();
      const { file: _file, ...data } = m;
      expect(() => new Model(data).validate(), `${m.file}: ${m.kind} ${m.metadata.name}`).not.toThrow();
    }
  });

  it("the validator is not a formality: a broken manifest is refused", () => {
    const d = structuredClone(find("DaemonSet", "tftpkit"));
    const { file: _file, ...data } = d;
    data.spec.template.spec.containers[0].ports[0].containerPort = "sixty-nine";
    expect(() => new DaemonSet(data).validate()).toThrow(/containerPort/);
  });

  it("the kustomization lists every manifest but the load generator's", () => {
    const k = parse(readFileSync(join(DIR, "kustomization.yaml"), "utf8")) as { resources: string[] };
    for (const r of k.resources) expect(files).toContain(r);
    expect(files.filter((f) => !k.resources.includes(f)).every((f) => f.startsWith("loadgen"))).toBe(true);
  });

  it("both set-ups run the image's tftpkit non-root with only NET_BIND_SERVICE, probes, resources and the config", () => {
    for (const m of [find("DaemonSet", "tftpkit"), find("Deployment", "tftpkit")]) {
      const pod = m.spec.template.spec;
      const c = tftpkitContainer(m);
      expect(c.image).toBe(`tftpkit:${VERSION}`);
      expect(c.args).toEqual(["serve", "--config", "/etc/tftpkit/tftpkit.yaml"]);
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
      expect(c.securityContext.capabilities).toEqual({ drop: ["ALL"], add: ["NET_BIND_SERVICE"] });
      expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
      expect(c.livenessProbe.httpGet.path).toBe("/healthz");
      expect(c.readinessProbe.httpGet.path).toBe("/healthz");
      expect(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.cpu && c.resources.limits.memory).toBeTruthy();
      expect(c.ports).toContainEqual(expect.objectContaining({ containerPort: 69, protocol: "UDP" }));
      const mounts = Object.fromEntries(c.volumeMounts.map((v: Yaml) => [v.mountPath, v]));
      expect(mounts["/etc/tftpkit"].readOnly).toBe(true);
      expect(mounts["/srv/tftp"].readOnly).toBe(true);
      const otel = c.env.find((e: Yaml) => e.name === "OTEL_EXPORTER_OTLP_ENDPOINT");
      expect(otel.value).toBe("http://otel-collector.tftpkit.svc:4318");
    }
  });

  it("the DaemonSet uses the node's network (replies from the node's address) and probes the admin API on loopback", () => {
    const d = find("DaemonSet", "tftpkit");
    expect(d.spec.template.spec.hostNetwork).toBe(true);
    expect(d.spec.template.spec.dnsPolicy).toBe("ClusterFirstWithHostNet");
    const c = tftpkitContainer(d);
    expect(c.livenessProbe.httpGet).toMatchObject({ host: "127.0.0.1", port: 9069 });
  });

  it("the Deployment is behind a UDP Service on port 69, in single-port mode, scraped by Prometheus", () => {
    const d = find("Deployment", "tftpkit");
    const s = find("Service", "tftpkit");
    expect(s.spec.ports).toContainEqual(expect.objectContaining({ port: 69, protocol: "UDP", targetPort: "tftp" }));
    for (const [k, v] of Object.entries(s.spec.selector as Record<string, string>)) {
      expect(d.spec.template.metadata.labels[k]).toBe(v);
    }
    expect(s.spec.externalTrafficPolicy).toBe("Local");
    const ann = d.spec.template.metadata.annotations;
    expect(ann).toMatchObject({ "prometheus.io/scrape": "true", "prometheus.io/port": "9069", "prometheus.io/path": "/metrics" });
    const cm = find("ConfigMap", "tftpkit-config");
    const key = d.spec.template.spec.volumes.find((v: Yaml) => v.name === "config").configMap.items[0].key;
    expect(parse(cm.data[key])).toMatchObject({ singlePort: true, port: 69 });
    const sysctls = d.spec.template.spec.securityContext.sysctls;
    expect(sysctls).toContainEqual({ name: "net.ipv4.ip_unprivileged_port_start", value: "0" });
  });

  it("the collector's ConfigMap is infra/otel-collector.yaml", () => {
    const cm = find("ConfigMap", "otel-collector-config");
    expect(parse(cm.data["collector.yaml"])).toEqual(parse(readFileSync(join(REPO, "infra", "otel-collector.yaml"), "utf8")));
    const svc = find("Service", "otel-collector");
    expect(svc.spec.ports).toContainEqual(expect.objectContaining({ port: 4318 }));
  });

  it("tftpkit accepts every config file of the ConfigMap (--print-config)", async () => {
    const cm = find("ConfigMap", "tftpkit-config");
    const root = join(work, "srv-tftp");
    mkdirSync(root, { recursive: true });
    for (const [key, text] of Object.entries(cm.data as Record<string, string>)) {
      const path = join(work, key);
      writeFileSync(path, (text as string).replace(/^root: \/srv\/tftp$/m, `root: ${root}`));
      const r = await ok(process.execPath, [BIN, "serve", "--config", path, "--print-config"]);
      const effective = JSON.parse(r.stdout) as Record<string, unknown>;
      const asked = parse(text as string) as Record<string, unknown>;
      for (const [k, v] of Object.entries(asked)) {
        if (k !== "root") expect(effective[k], `${key}: ${k}`).toEqual(v);
      }
    }
  });
});
