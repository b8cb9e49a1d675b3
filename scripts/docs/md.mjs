// Markdown helpers of the page generators.

/** Text for a table cell: pipes escaped, one line, `<` and `>` outside code spans as entities. */
export function cell(s) {
  return String(s ?? "")
    .replace(/\n/g, " ")
    .split("`")
    .map((part, i) => (i % 2 ? part : part.replace(/</g, "&lt;").replace(/>/g, "&gt;")))
    .join("`")
    .replace(/\|/g, "\\|");
}

/** A code span for a table cell. */
export const code = (s) => `\`${String(s).replace(/\|/g, "\\|")}\``;
