export const REPO: string;
export const GENERATED_PAGES: string[];
export const PAGES_WITH_GENERATED_PARTS: string[];
export function generatedPages(repo?: string): Promise<Map<string, string>>;
