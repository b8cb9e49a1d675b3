export function typeOnlyExports(dts: string): string[];
export function entryPoints(pkgDir: string): string[];
export function exportSurface(pkgDir: string, subpath?: string): Promise<{ values: string[]; types: string[] }>;
