export const ATTRIBUTES_FILE: string;
export interface AttributeEntry {
  name: string;
  value: unknown;
  doc: string;
  note: string;
  section: string;
  sub: string;
}
export function readAttributes(repo: string): AttributeEntry[];
export function countDeclarations(repo: string): number;
export function prometheusName(name: string, instrument: string): string;
export function metricsPage(repo: string): string;
