export function adminApiPageOf(doc: Record<string, unknown>): string;
export function adminApiPage(repo: string): Promise<string>;
