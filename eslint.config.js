// ESLint flat config for the whole repository (`npm run lint`).
//
// - Every TypeScript and JavaScript file gets ESLint's and typescript-eslint's
//   recommended rules (syntax only, fast).
// - The library and app sources (packages/*/src, apps/*/src) also get the
//   type-checked promise rules: a promise nobody awaits or handles, or a
//   promise handed where a plain callback is expected, is a bug in a server.
//   These read the types through each package's own tsconfig.json, so the
//   workspaces they import must be built first (`npm run build`).
// - The dashboard page (apps/dashboard/web, Preact) gets the rules of hooks.
// - The AssemblyScript core (packages/wasm-core/assembly) is left out: its
//   decorators (@inline, @unmanaged) are not TypeScript syntax, and the
//   AssemblyScript compiler checks it when it builds.

import js from "@eslint/js";
import globals from "globals";
import reactHooks from "eslint-plugin-react-hooks";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: ["**/node_modules/**", "**/dist/**", "**/build/**", "**/.turbo/**", "**/coverage/**", "bench-results/**", "packages/wasm-core/assembly/**"],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: { ...globals.node },
    },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      // `_name` marks a parameter or binding kept on purpose (a callback's shape, a rest split).
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none", ignoreRestSiblings: true },
      ],
      "no-throw-literal": "error",
    },
  },
  {
    files: ["apps/dashboard/web/**"],
    languageOptions: { globals: { ...globals.browser } },
    plugins: { "react-hooks": reactHooks },
    rules: {
      "react-hooks/rules-of-hooks": "error",
      "react-hooks/exhaustive-deps": "error",
    },
  },
  {
    files: ["packages/*/src/**/*.ts", "apps/*/src/**/*.ts"],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/await-thenable": "error",
      "@typescript-eslint/require-await": "error",
    },
  },
);
