// Starts a real Foxhole on a free loopback port with a fresh data dir, and
// Debian's Chromium through playwright-core (no downloaded browsers).
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

const root = resolve(import.meta.dirname, "../..");
export const results = resolve(import.meta.dirname, "../test-results");
mkdirSync(results, { recursive: true });

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => ok(port)); });
    s.on("error", fail);
  });
}

export async function startFoxhole(env = {}) {
  let bin = process.env.FOXHOLE_BIN;
  if (!bin) {
    bin = join(root, "bin/foxhole");
    execFileSync("go", ["build", "-o", bin, "./cmd/foxhole"], { cwd: root, stdio: "inherit" });
  }
  const dir = mkdtempSync(join(tmpdir(), "foxhole-e2e-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = spawn(bin, [], {
    env: { ...process.env, FOXHOLE_ADDR: `127.0.0.1:${port}`, FOXHOLE_DATA_DIR: dir, FOXHOLE_AUTH_RATE: "0", FOXHOLE_LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "inherit", "inherit"],
  });
  for (let i = 0; ; i++) {
    try { if ((await fetch(url + "/healthz")).ok) break; } catch {}
    if (i > 200 || proc.exitCode !== null) throw new Error("Foxhole did not start");
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    async stop() {
      proc.kill("SIGTERM");
      await new Promise((r) => (proc.exitCode !== null ? r() : proc.once("exit", r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
}

export const shot = (page, name) => page.screenshot({ path: join(results, `${name}.png`), fullPage: false });
