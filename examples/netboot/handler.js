// A netboot set-up to copy: one tftpkit handler that serves iPXE, GRUB (EFI)
// and PXELINUX machines their own boot config, from one inventory
// (machines.json) and three templates (templates/), with the kernel and
// initrd fetched over tftpkit's HTTP stage when `--http` is on.
//
//   tftpkit serve --root /srv/netboot --http :8069 --handler examples/netboot/handler.js
//
// What each loader asks, and what it gets:
//
//   iPXE      boot.ipxe (or boot.ipxe?mac=${net0/mac}, over TFTP or HTTP)
//             -> templates/boot.ipxe for the machine: kernel and initrd over HTTP
//   GRUB      grub/grub.cfg-01-<mac>   -> templates/grub.cfg for a machine known by MAC
//             grub/grub.cfg-<HEX IP>   -> ... known by IP (shorter hex prefixes: not found)
//             grub/grub.cfg            -> ... known by its address, else "boot from disk"
//   PXELINUX  pxelinux.cfg/01-<mac>, pxelinux.cfg/<HEX IP>, pxelinux.cfg/default: the same
//   anything else (loaders, kernels, initrds, modules)  -> the files under --root
//
// A machine is found by MAC (from the name it asked, or one its boot flow
// asked before), then by IPv4 address. Settings (environment):
//
//   NETBOOT_MACHINES   the inventory (default: machines.json beside this file)
//   NETBOOT_TEMPLATES  the templates folder (default: templates/ beside this file)
//   NETBOOT_HTTP_HOST  the address machines reach the HTTP stage at, when
//                      tftpkit listens on every address and the request's own
//                      local address is not the one to give out (NAT, proxies)
//
// The inventory is read again when it changes (a stat per config request).

import { readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { TftpError, hexToIpv4, parseBootPath } from "@tftpkit/server";
import { templateSource } from "@tftpkit/handler-kit";

const here = dirname(fileURLToPath(import.meta.url));
const MACHINES = process.env.NETBOOT_MACHINES || join(here, "machines.json");
const TEMPLATES = process.env.NETBOOT_TEMPLATES || join(here, "templates");
const HTTP_HOST = process.env.NETBOOT_HTTP_HOST || undefined;

// ------------------------------------------------------------ inventory

let inventory = { at: -1, defaults: {}, byMac: new Map(), byIp: new Map() };

/** machines.json, parsed again when its mtime changes; a broken file keeps the last good one (and says why once). */
function machines() {
  let st;
  try {
    st = statSync(MACHINES);
  } catch {
    throw new Error(`netboot: cannot read the inventory ${MACHINES}`);
  }
  if (st.mtimeMs === inventory.at) return inventory;
  let doc;
  try {
    doc = JSON.parse(readFileSync(MACHINES, "utf8"));
  } catch (err) {
    if (inventory.at >= 0) {
      process.stderr.write(`netboot: ${MACHINES} is not valid JSON (${err.message}); keeping the previous inventory\n`);
      inventory.at = st.mtimeMs;
      return inventory;
    }
    throw new Error(`netboot: ${MACHINES} is not valid JSON: ${err.message}`);
  }
  const byMac = new Map();
  const byIp = new Map();
  for (const [key, m] of Object.entries(doc.machines ?? {})) {
    const mac = /^([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$/i.test(key) ? key.toLowerCase().replace(/-/g, ":") : undefined;
    if (mac) byMac.set(mac, m);
    else byIp.set(key, m);
    if (m.ip) byIp.set(m.ip, m);
  }
  inventory = { at: st.mtimeMs, defaults: doc.defaults ?? {}, byMac, byIp };
  return inventory;
}

const ipv4Of = (address) => (address.startsWith("::ffff:") ? address.slice(7) : address);

// ------------------------------------------------------------ templates

/** The template a (client-specific part removed) name is answered from. */
const TEMPLATE_OF = {
  "boot.ipxe": "boot.ipxe",
  "grub/grub.cfg": "grub.cfg",
  "grub.cfg": "grub.cfg",
  "boot/grub/grub.cfg": "grub.cfg",
  "pxelinux.cfg/default": "pxelinux.cfg",
};

/** The URL base of kernels and initrds: the HTTP stage when it is on (at the address the request came to), else none. */
function httpBase(request, http) {
  if (!http) return undefined;
  let host = HTTP_HOST ?? http.host ?? request.local?.address;
  if (!host) return undefined;
  host = ipv4Of(host);
  return { host: host.includes(":") ? `[${host}]` : host, port: http.port };
}

/** A file name with the boot flow's traceparent as a suffix: the HTTP stage strips it and joins that trace. */
function traced(path, flow) {
  const tp = flow?.traceparent;
  return tp && /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/.test(tp) ? `${path}-${tp}` : path;
}

function varsFor(request, ctx, http) {
  const inv = machines();
  const { path } = ctx;
  const ip = ipv4Of(request.peer.address);
  let machine;
  if (path.mac) {
    // A name that carries a MAC (01-<mac>, ?mac=): that machine, or not found (the loader asks the next name).
    machine = inv.byMac.get(path.mac);
    if (!machine) throw TftpError.notFound(`no machine ${path.mac} in the inventory`);
  } else if (path.hexIp) {
    machine = inv.byIp.get(hexToIpv4(path.hexIp));
    if (!machine) throw TftpError.notFound(`no machine ${hexToIpv4(path.hexIp)} in the inventory`);
  } else {
    const known = request.flow?.identity?.kind === "mac" ? request.flow.identity.value : undefined;
    machine = (known && inv.byMac.get(known)) || inv.byIp.get(ip);
  }
  if (!machine) return { known: false, ip };
  const m = { ...inv.defaults, ...machine };
  const base = httpBase(request, http);
  const kernel = traced(m.kernel, request.flow);
  const initrd = traced(m.initrd, request.flow);
  return {
    known: true,
    ip,
    hostname: m.hostname ?? `node-${ip.replace(/[.:]/g, "-")}`,
    args: m.args ?? "",
    // iPXE and PXELINUX (lpxelinux.0): URLs; without HTTP, iPXE reads tftp:// and PXELINUX root-relative names.
    kernelUrl: base ? `http://${base.host}:${base.port}/${kernel}` : `tftp://\${next-server}/${m.kernel}`,
    initrdUrl: base ? `http://${base.host}:${base.port}/${initrd}` : `tftp://\${next-server}/${m.initrd}`,
    pxeKernel: base ? `http://${base.host}:${base.port}/${kernel}` : m.kernel,
    pxeInitrd: base ? `http://${base.host}:${base.port}/${initrd}` : m.initrd,
    // GRUB: a device of its own http module, or the TFTP root it booted from.
    grubKernel: base ? `(http,${base.host}:${base.port})/${kernel}` : `/${m.kernel}`,
    grubInitrd: base ? `(http,${base.host}:${base.port})/${initrd}` : `/${m.initrd}`,
  };
}

let helpersHttp;
const templates = templateSource({
  dir: TEMPLATES,
  name: (path) => TEMPLATE_OF[path.rest],
  vars: (request, ctx) => varsFor(request, ctx, helpersHttp),
});

/** The tftpkit handler: configs from the templates, everything else (undefined) from --root. */
export default async function netbootHandler(request, helpers) {
  helpersHttp = helpers?.http;
  // Over HTTP the query is apart from the path: boot.ipxe?mac=... names the machine either way.
  const asked = request.http?.query ? { ...request, path: `${request.path}?${request.http.query}` } : request;
  let name;
  try {
    name = TEMPLATE_OF[parseBootPath(asked.path).rest];
  } catch {
    return undefined; // a name the root resolver refuses as well
  }
  if (!name) return undefined;
  return templates(asked);
}
