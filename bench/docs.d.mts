// Types of bench/docs.mjs for the TypeScript tests (test/bench/docs.test.ts).

/** A Markdown table: `cols` the header, `rows` arrays of cells (a | in a cell is escaped). */
export function markdownTable(cols: string[], rows: string[][]): string;

/** docs/performance.md: `template` with its {{name}} placeholders filled from a bench result (bench-results/latest.json's shape). */
export function renderPerformance(template: string, doc: unknown): string;
