// What boot flows know of boot loaders: the config searches they run (a miss
// inside one is how the loader works, not a failure), the stage of each file
// (boot program, config, kernel, initrd), and who asked (firmware and loaders
// tell themselves apart by their options and the names they ask for).
//
//   search          sent by            order asked                                          found nothing
//   pxelinux.cfg    PXELINUX, U-Boot   pxelinux.cfg/<uuid>, 01-<mac>, C0A8010A, C0A8010,     pxelinux.cfg/default
//                                      ... C, (U-Boot: default-<arch>-<soc>, default-<arch>),  missing too
//                                      default
//   grub.cfg        GRUB               grub.cfg-<uuid>, grub.cfg-01-<mac>, grub.cfg-0A00020F, grub.cfg missing too
//                                      ... grub.cfg-0, grub.cfg
//   autoexec.ipxe   iPXE               autoexec.ipxe (then the DHCP boot file name)          (optional: never)
//   UEFI size probe EDK2               <name> with tsize, ERROR 8 after the OACK, then <name> (outcome "probe")
//
// Everything here is a handful of string tests per session (no state of its
// own): the flow keeps what it learnt (flows.ts).

export type FlowStage = "boot-program" | "config" | "kernel" | "initrd" | "other";

export const FLOW_STAGES: ReadonlySet<string> = new Set<FlowStage>(["boot-program", "config", "kernel", "initrd", "other"]);

export interface BootSequence {
  /** The sequence's name (in flows: `noConfig`). */
  id: "pxelinux.cfg" | "grub.cfg" | "autoexec.ipxe" | "uefi-probe";
  /** "search": names asked in turn until one exists; "probe": the UEFI size probe (the session layer's outcome "probe"). */
  kind: "search" | "probe";
  /** Who sends it. */
  loaders: readonly string[];
  /** The names in the order asked: {uuid}, {mac} (aa-bb-cc-dd-ee-ff), {hexip} (C0A8010A, then shorter by one digit down to one). */
  order: readonly string[];
  /** A name of the search that may be missing: the loader then asks the next. */
  candidate?: RegExp;
  /** The last name: missing too, the loader found no config (the flow fails). Absent: an optional search. */
  fallback?: RegExp;
}

const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
/** ARP hardware type and 6 bytes: 01-aa-bb-cc-dd-ee-ff. */
const HWADDR = "[0-9a-f]{2}(?:-[0-9a-f]{2}){6}";

/** The known sequences, one row each. */
export const BOOT_SEQUENCES: readonly BootSequence[] = Object.freeze([
  {
    id: "pxelinux.cfg",
    kind: "search",
    loaders: ["PXELINUX", "U-Boot"],
    order: ["pxelinux.cfg/{uuid}", "pxelinux.cfg/01-{mac}", "pxelinux.cfg/{hexip}", "pxelinux.cfg/default-<arch>-<soc>", "pxelinux.cfg/default-<arch>", "pxelinux.cfg/default"],
    candidate: new RegExp(`(?:^|/)pxelinux\\.cfg/(?:${UUID}|${HWADDR}|[0-9a-f]{1,8}|default-[a-z0-9_.-]+)$`, "i"),
    fallback: /(?:^|\/)pxelinux\.cfg\/default$/i,
  },
  {
    id: "grub.cfg",
    kind: "search",
    loaders: ["GRUB"],
    order: ["grub.cfg-{uuid}", "grub.cfg-01-{mac}", "grub.cfg-{hexip}", "grub.cfg"],
    candidate: new RegExp(`(?:^|/)grub\\.cfg-(?:${UUID}|${HWADDR}|[0-9a-f]{1,8})$`, "i"),
    fallback: /(?:^|\/)grub\.cfg$/i,
  },
  {
    id: "autoexec.ipxe",
    kind: "search",
    loaders: ["iPXE"],
    order: ["autoexec.ipxe"],
    candidate: /(?:^|\/)autoexec\.ipxe$/i,
  },
  {
    id: "uefi-probe",
    kind: "probe",
    loaders: ["UEFI PXE"],
    order: ["{name} (tsize asked, ERROR 8 after the OACK)", "{name}"],
  },
] satisfies BootSequence[]);

const SEARCHES = BOOT_SEQUENCES.filter((s) => s.kind === "search");

/** Where a name stands in a known search: a candidate (may be missing) or its fallback (missing: no config). */
export interface SearchPlace {
  search: BootSequence;
  fallback: boolean;
}

/** The search a requested name belongs to, if any. */
export function searchOf(path: string): SearchPlace | undefined {
  // Cheap first: every searched name contains "pxelinux.cfg/", "grub.cfg" or "autoexec.ipxe".
  if (!path.includes(".cfg") && !path.includes("autoexec")) return undefined;
  for (const search of SEARCHES) {
    if (search.fallback?.test(path)) return { search, fallback: true };
    if (search.candidate!.test(path)) return { search, fallback: false };
  }
  return undefined;
}

// ------------------------------------------------------------------ names

/** The last segment, lower case. */
export function baseName(path: string): string {
  const q = path.indexOf("?");
  const p = q >= 0 ? path.slice(0, q) : path;
  return p.slice(p.lastIndexOf("/") + 1).toLowerCase();
}

const KERNEL = /^(?:vmlinu[xz][^/]*|bzimage[^/]*|linux(?:64)?(?:\.efi)?|image(?:\.gz)?|zimage|uimage|kernel[^/]*)$/;
const INITRD = /^(?:initrd[^/]*|initramfs[^/]*|uinitrd|[^/]*\.cpio(?:\.[a-z0-9]+)?)$/;
const CONFIG = /^(?:[^/]*\.(?:cfg|conf|ipxe|menu|scr|uimg)|grubenv|cmdline\.txt|config\.txt)$/;
const PROGRAM = /\.(?:efi|0|kk?pxe|pxe|lkrn|com|n12|c32|mod|lst)$|^(?:ldlinux\.[a-z0-9]+|bootcode\.bin|start[^/]*\.elf|u-boot[^/]*\.bin)$/;

/**
 * A file's stage by its name alone (undefined: the name says nothing; the
 * flow's order decides). Searched names are configs.
 */
export function stageOfName(path: string, base = baseName(path), place = searchOf(path)): FlowStage | undefined {
  if (place || path.includes("pxelinux.cfg/")) return "config";
  if (KERNEL.test(base)) return "kernel";
  if (INITRD.test(base)) return "initrd";
  if (CONFIG.test(base)) return "config";
  if (PROGRAM.test(base)) return "boot-program";
  return undefined;
}

/**
 * The stage of a name the name alone does not place, from what the flow
 * fetched before it: the first file of a flow is its boot program, the first
 * after a config its kernel, the first after a kernel its initrd.
 */
export function stageByOrder(first: boolean, sawConfig: boolean, sawKernel: boolean, sawInitrd: boolean): FlowStage {
  if (first) return "boot-program";
  if (sawKernel) return sawInitrd ? "other" : "initrd";
  if (sawConfig) return "kernel";
  return "other";
}

// -------------------------------------------------------------- the chain

/**
 * Who sent a request, from its options and name: firmware and loaders each
 * send their own (EDK2 asks windowsize 4, U-Boot timeout 5 before any
 * other option, iPXE blksize 1432, PXELINUX blksize 1408); names only one loader asks for (GRUB's
 * modules and configs, iPXE scripts, PXELINUX's modules and configs). The
 * first request of a flow names the firmware by its file when nothing else
 * does: a .efi file is UEFI's, a .0/.kpxe/.pxe/.com the BIOS PXE ROM's.
 */
export function askerOf(path: string, base: string, options: Readonly<Record<string, string>> | undefined, first: boolean): string | undefined {
  if (options) {
    if (options.windowsize === "4") return "UEFI PXE";
    // U-Boot puts timeout first (curl sends timeout too, last).
    if (options.timeout === "5" && firstKey(options) === "timeout") return "U-Boot";
    if (options.blksize === "1432") return "iPXE";
  }
  if (base.startsWith("grub.cfg") || base.endsWith(".mod") || base.endsWith(".lst") || base === "grubenv") return "GRUB";
  if (base.endsWith(".ipxe")) return "iPXE";
  if (options?.blksize === "1408" || base.endsWith(".c32") || base.startsWith("ldlinux.") || path.includes("pxelinux.cfg/")) return "PXELINUX";
  if (first) {
    if (base.endsWith(".efi")) return "UEFI PXE";
    if (/\.(?:0|kk?pxe|pxe|com|n12)$/.test(base)) return "BIOS PXE";
  }
  return undefined;
}

function firstKey(o: Readonly<Record<string, string>>): string | undefined {
  for (const k in o) return k;
  return undefined;
}

const PROGRAMS: ReadonlyArray<[RegExp, string]> = [
  [/^(?:[gl]?pxelinux\.0|syslinux\.efi)$/, "PXELINUX"],
  [/^(?:undionly\.kk?pxe|ipxe[^/]*\.(?:efi|pxe|kk?pxe|lkrn|usb)|snp(?:only)?\.efi|[^/]*\.kk?pxe)$/, "iPXE"],
  [/^(?:grub[^/]*\.(?:efi|0|pxe)|core\.(?:efi|0))$/, "GRUB"],
  [/^shim[^/]*\.efi$/, "shim"],
];

/** What a fetched file runs next: a boot loader by its program's name, or Linux by its kernel's. */
export function nextOf(base: string, stage: FlowStage): string | undefined {
  if (stage === "kernel") return KERNEL.test(base) ? "Linux" : undefined;
  if (stage !== "boot-program") return undefined;
  for (const [re, name] of PROGRAMS) if (re.test(base)) return name;
  return undefined;
}

/** What a name says on its own: its base name, its place in a known search, its stage (undefined: the order decides). */
export interface NameInfo {
  base: string;
  place: SearchPlace | undefined;
  stage: FlowStage | undefined;
}

/** Names seen lately (boot fleets ask the same few names over and over); cleared when full. */
const NAME_CACHE = new Map<string, NameInfo>();
const NAME_CACHE_MAX = 512;

/** nameInfo() of a path, from a small cache: the string tests run once per name, not once per request. */
export function nameInfo(path: string): NameInfo {
  let n = NAME_CACHE.get(path);
  if (n) return n;
  const base = baseName(path);
  const place = searchOf(path);
  n = { base, place, stage: stageOfName(path, base, place) };
  if (NAME_CACHE.size >= NAME_CACHE_MAX) NAME_CACHE.clear();
  NAME_CACHE.set(path, n);
  return n;
}

/** Links a chain keeps at most. */
export const CHAIN_MAX = 6;
