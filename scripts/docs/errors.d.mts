export interface ErrorCodeEntry {
  catalog: string;
  kind: "union" | "object" | "class" | "used";
  doc: string;
  file: string;
}
export function readErrorCatalogs(repo: string): { codes: Map<string, ErrorCodeEntry>; wire: Map<string, number> };
export function errorsPage(repo: string): string;
export function readErrnoMapping(repo: string): Map<number, string[]>;
