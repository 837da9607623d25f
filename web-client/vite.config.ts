import { readFileSync } from "node:fs";
import { defineConfig, type Plugin } from "vite";
import { renderDocs } from "./src/docs/render.ts";

// The Foxhole that `npm run dev` proxies API calls to.
const target = process.env.FOXHOLE_URL ?? "http://127.0.0.1:8080";

// docs renders the API reference into docs.html at build time, from the
// descriptors (with their comments) that `just gen` writes.
function docs(): Plugin {
  return {
    name: "foxhole-docs",
    transformIndexHtml(html, ctx) {
      if (!ctx.filename.endsWith("docs.html")) return html;
      const set = JSON.parse(readFileSync(new URL("./src/gen/descriptors.json", import.meta.url), "utf8"));
      return html.replace("<!-- docs -->", renderDocs(set));
    },
    configureServer(server) {
      // Foxhole serves the reference at /docs; so does the dev server.
      server.middlewares.use((req, _res, next) => {
        if (req.url === "/docs") req.url = "/docs.html";
        next();
      });
    },
  };
}

export default defineConfig({
  plugins: [docs()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // Foxhole's Content-Security-Policy allows no data: scripts or styles.
    assetsInlineLimit: 0,
    rollupOptions: { input: { index: "index.html", docs: "docs.html" } },
  },
  server: {
    host: "127.0.0.1",
    proxy: {
      "^/foxhole\\.v1\\.": target,
      "/files/": target,
      "/ws": { target, ws: true },
      "/healthz": target,
    },
  },
});
