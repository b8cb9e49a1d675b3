import { defineConfig } from "vite";

// The page is built into build/web (index.html + assets/ with hashed names)
// and served by `tftpkit serve` and `tftpkit-dashboard` under a strict CSP:
// no inline script or style, nothing inlined as a data: URL but images.
export default defineConfig({
  root: "web",
  base: "./",
  publicDir: false,
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "../build/web",
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: "es2022",
    reportCompressedSize: false,
  },
});
