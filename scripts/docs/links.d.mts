export function linkTargets(markdown: string): string[];
export function brokenLinks(repo: string, files: string[], exempt?: string[]): string[];
