export function linkTargets(markdown: string): string[];
export function brokenLinks(repo: string, files: string[], exempt?: string[]): string[];
export function slug(heading: string): string;
export function anchors(markdown: string): Set<string>;
