// The web app in a real browser against a real Foxhole.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launch, results, shot, startFoxhole } from "./harness.mjs";

let server, browser;
before(async () => {
  server = await startFoxhole();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

// newUser opens a context, registers and lands in the app.
async function newUser(name, options = {}) {
  const context = await browser.newContext({ baseURL: server.url, ...options });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  page.on("console", (m) => m.type() === "error" && !/Failed to load resource|ERR_INTERNET_DISCONNECTED|net::/.test(m.text()) && errors.push(m.text()));
  await page.goto("/");
  await page.getByLabel("Screen name (optional)").fill(name);
  await page.getByRole("button", { name: "Create account" }).click();
  const secret = (await page.locator("#secret-value").textContent()).trim();
  await page.getByRole("button", { name: "I have saved it: continue" }).click();
  await page.locator("#conn[data-status=online]").waitFor();
  return { context, page, secret, errors };
}

const sha256 = (path) => new Promise((ok, fail) => {
  const h = createHash("sha256");
  createReadStream(path).on("data", (d) => h.update(d)).on("end", () => ok(h.digest("hex"))).on("error", fail);
});

describe("web app", () => {
  test("register, copy the secret, sign out, sign in with it", async () => {
    const context = await browser.newContext({ baseURL: server.url });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
    const page = await context.newPage();
    const res = await page.goto("/");
    assert.match(res.headers()["content-security-policy"], /script-src 'self'/);
    await shot(page, "1-sign-in");
    await page.getByLabel("Screen name (optional)").fill("Ada");
    await page.getByRole("button", { name: "Create account" }).click();
    await page.getByText("This is shown only once.").waitFor();
    const secret = (await page.locator("#secret-value").textContent()).trim();
    assert.match(secret, /^fxs_/);
    await page.getByRole("button", { name: "Copy secret" }).click();
    await page.getByRole("button", { name: "Copied" }).waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
    await shot(page, "2-secret");
    await page.getByRole("button", { name: "I have saved it: continue" }).click();
    await page.locator("#who", { hasText: "Ada" }).waitFor();
    await page.locator("#conn[data-status=online]").waitFor();
    // Not remembered: nothing in storage, and a reload returns to sign-in.
    assert.equal(await page.evaluate(() => localStorage.length), 0);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("Your secret").fill("fxs_wrong");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText(/Could not sign in/).waitFor();
    await page.getByLabel("Your secret").fill(secret);
    await page.getByLabel(/Remember me/).check();
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator("#who", { hasText: "Ada" }).waitFor();
    // Remembered: a reload signs in again from the stored secret.
    await page.reload();
    await page.locator("#conn[data-status=online]").waitFor();
    assert.equal(await page.locator("#who").textContent(), "Ada");
    await context.close();
  });

  test("edit the profile, with the server's errors next to the field", async () => {
    const { context, page, errors } = await newUser("Grace");
    await page.getByRole("tab", { name: "Profile" }).click();
    const field = page.getByLabel("Screen name", { exact: true });
    await field.fill("x".repeat(65));
    await page.getByRole("button", { name: "Save" }).click();
    const err = page.locator("#panel-profile .field-error");
    await err.filter({ hasText: /Could not save the profile/ }).waitFor();
    assert.equal(await field.getAttribute("aria-invalid"), "true");
    await shot(page, "3-profile-error");
    await field.fill("Grace H.");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText("Saved.").waitFor();
    await page.locator("#who", { hasText: "Grace H." }).waitFor();
    assert.deepEqual(errors, []);
    await context.close();
  });

  test("upload 50 MiB with a moving progress bar, download it, same hash, delete it", async () => {
    const path = join(tmpdir(), `foxhole-e2e-${process.pid}.bin`);
    writeFileSync(path, randomBytes(50 << 20));
    const want = await sha256(path);
    const { context, page, errors } = await newUser("Uploader", { acceptDownloads: true });
    await page.getByRole("tab", { name: "Files" }).click();
    await page.getByText("No files yet.").waitFor();
    // Slow the upload to about 25 MiB/s so that the bar is seen moving.
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 25 << 20 });
    await page.getByLabel("Upload files").setInputFiles(path);
    const bar = page.locator(".upload progress");
    await bar.waitFor();
    const seen = new Set();
    let shotTaken = false;
    while (await bar.count()) {
      const v = await bar.evaluate((b) => b.value).catch(() => undefined);
      if (v !== undefined) seen.add(v);
      if (!shotTaken && v > 0) { await shot(page, "4-upload"); shotTaken = true; }
      await page.waitForTimeout(50);
    }
    const partial = [...seen].filter((v) => v > 0 && v < 50 << 20);
    assert.ok(partial.length >= 3, `the bar moved through ${partial.length} intermediate values`);
    await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    const name = path.split("/").pop();
    const row = page.locator("tr", { hasText: name });
    await row.waitFor();
    assert.match(await row.textContent(), /50 MiB/);
    await shot(page, "5-files");
    const [download] = await Promise.all([page.waitForEvent("download"), row.getByRole("button", { name: /Download/ }).click()]);
    assert.equal(await sha256(await download.path()), want);
    page.once("dialog", (d) => d.accept());
    await row.getByRole("button", { name: /Delete/ }).click();
    await page.getByText("No files yet.").waitFor();
    assert.deepEqual(errors, []);
    await context.close();
  });

  test("an upload pauses, resumes, and continues from its offset after the network drops", async () => {
    const size = 40 << 20;
    const path = join(tmpdir(), `foxhole-e2e-cut-${process.pid}.bin`);
    writeFileSync(path, randomBytes(size));
    const want = await sha256(path);
    const { context, page, errors } = await newUser("Commuter", { acceptDownloads: true });
    await page.getByRole("tab", { name: "Files" }).click();
    await page.getByText("No files yet.").waitFor();
    // Every tus request, in order: the offsets PATCHes start from.
    const requests = [];
    page.on("request", (r) => {
      if (r.url().includes("/files/tus/")) requests.push({ method: r.method(), offset: Number(r.headers()["upload-offset"] ?? -1) });
    });
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    const network = (offline) => cdp.send("Network.emulateNetworkConditions", { offline, latency: 0, downloadThroughput: -1, uploadThroughput: 8 << 20 });
    await network(false);
    await page.getByLabel("Upload files").setInputFiles(path);
    const bar = page.locator(".upload progress");
    await bar.waitFor();
    const value = () => bar.evaluate((b) => b.value);
    const until = async (ok, what) => {
      for (let i = 0; !(await ok()); i++) {
        if (i > 1200) throw new Error(`timed out waiting for ${what}`);
        await page.waitForTimeout(50);
      }
    };

    // Pause: the bar stops; resume: it moves on.
    await until(async () => (await value()) > 4 << 20, "4 MiB sent");
    await page.getByRole("button", { name: /^Pause / }).click();
    await page.waitForTimeout(500);
    const pausedAt = await value();
    await page.waitForTimeout(1000);
    assert.equal(await value(), pausedAt, "the bar moved while paused");
    await page.getByRole("button", { name: /^Resume / }).click();

    // Cut the network midway through the file, then bring it back.
    await until(async () => (await value()) > 20 << 20, "20 MiB sent");
    const cutAt = requests.length;
    await network(true);
    await page.waitForTimeout(3000);
    await network(false);
    await until(async () => (await bar.count()) === 0, "the upload to finish");
    await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    const after = requests.slice(cutAt);
    assert.ok(!after.some((r) => r.method === "POST"), "a new upload was started after the cut");
    const patches = after.filter((r) => r.method === "PATCH");
    assert.ok(patches.length > 0, "no PATCH after the cut");
    assert.ok(patches[0].offset >= 16 << 20, `the first PATCH after the cut started at ${patches[0].offset}, not from the offset the server kept`);

    const name = path.split("/").pop();
    const row = page.locator("tr", { hasText: name });
    await row.waitFor();
    await shot(page, "6-resumed-upload");
    // The list refreshes on file events and may replace the row under a
    // click: click again until the click takes.
    const clickUntil = async (button, outcome) => {
      for (let i = 0; ; i++) {
        const waiting = outcome().then((v) => ({ v }), (e) => ({ e }));
        await row.getByRole("button", { name: button }).click();
        const r = await waiting;
        if (!r.e) return r.v;
        if (i === 4) {
          await shot(page, "6-click-failed");
          throw new Error(`${r.e.message}; toasts: ${await page.locator(".toast, [role=alert], [role=status]").allTextContents()}; errors: ${errors}`);
        }
      }
    };
    const download = await clickUntil(/Download/, () => page.waitForEvent("download", { timeout: 5000 }));
    assert.equal(await sha256(await download.path()), want);

    // Share it: the link serves the bytes without a token; unshare ends it.
    await clickUntil(/^Share/, () => row.getByRole("button", { name: /Unshare/ }).waitFor({ timeout: 5000 }));
    const link = await page.evaluate(() => navigator.clipboard.readText());
    assert.match(link, /\/files\/shared\//);
    const head = await fetch(link, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(Number(head.headers.get("content-length")), size);
    page.once("dialog", (d) => d.accept());
    await row.getByRole("button", { name: /Unshare/ }).click();
    await row.getByRole("button", { name: /^Share/ }).waitFor();
    assert.equal((await fetch(link, { method: "HEAD" })).status, 404);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test("two people chat; a personal message reaches only its recipient", async () => {
    const a = await newUser("Alice");
    const b = await newUser("Bob");
    const c = await newUser("Carol", { viewport: { width: 390, height: 844 } });
    // Alice sees Bob come online, and Carol, who came last, finds both in
    // her snapshot of who is online. Alice writes to everyone.
    await a.page.locator(".people", { hasText: "Bob" }).waitFor();
    for (const name of ["Alice", "Bob"]) await c.page.locator(".people", { hasText: name }).waitFor();
    await a.page.getByLabel("Message", { exact: true }).fill("hello, everyone");
    await a.page.getByRole("button", { name: "Send", exact: true }).click();
    for (const u of [a, b, c]) await u.page.locator(".message", { hasText: "hello, everyone" }).waitFor();
    // Bob answers Alice alone, picking her from who is online.
    await b.page.getByRole("button", { name: "Message Alice privately" }).click();
    await b.page.getByLabel("Message", { exact: true }).fill("just for you, Alice");
    await b.page.keyboard.press("Enter");
    await a.page.locator(".message.personal", { hasText: "just for you, Alice" }).filter({ hasText: "privately to you" }).waitFor();
    await b.page.locator(".message.personal", { hasText: "just for you, Alice" }).filter({ hasText: "privately to Alice" }).waitFor();
    // Carol hears the next broadcast, so she would have had the personal one by now.
    await a.page.getByLabel("Message", { exact: true }).fill("after the secret");
    await a.page.getByRole("button", { name: "Send", exact: true }).click();
    await c.page.locator(".message", { hasText: "after the secret" }).waitFor();
    assert.equal(await c.page.locator(".message", { hasText: "just for you" }).count(), 0);
    await shot(a.page, "6-chat");
    await shot(c.page, "7-chat-phone");
    for (const u of [a, b, c]) assert.deepEqual(u.errors, []);
    // Carol leaves: she goes from the others' lists.
    await c.context.close();
    for (const u of [a, b]) await u.page.locator(".people", { hasText: "Carol" }).waitFor({ state: "detached" });
    for (const u of [a, b]) await u.context.close();
  });

  test("cut the network: offline indicator, then resume with nothing missed", async () => {
    const a = await newUser("Roamer");
    const b = await newUser("Sender");
    await a.context.setOffline(true);
    await a.page.locator("#conn[data-status=offline]").waitFor();
    await shot(a.page, "8-offline");
    for (const text of ["while you were away 1", "while you were away 2", "while you were away 3"]) {
      await b.page.getByLabel("Message", { exact: true }).fill(text);
      await b.page.getByRole("button", { name: "Send", exact: true }).click();
      await b.page.locator(".message", { hasText: text }).waitFor();
    }
    await a.page.waitForTimeout(3000);
    assert.equal(await a.page.locator(".message", { hasText: "while you were away" }).count(), 0);
    await a.context.setOffline(false);
    await a.page.locator("#conn[data-status=online]").waitFor();
    await a.page.locator(".message", { hasText: "while you were away 3" }).waitFor();
    const got = await a.page.locator(".message .content").allTextContents();
    assert.deepEqual(got.filter((t) => t.startsWith("while you were away")), ["while you were away 1", "while you were away 2", "while you were away 3"]);
    await a.context.close();
    await b.context.close();
  });

  test("replacing the secret revokes the stream's token; the app renews and stays online", async () => {
    const a = await newUser("Rotator");
    const b = await newUser("Witness");
    await a.page.getByRole("tab", { name: "Profile" }).click();
    a.page.once("dialog", (d) => d.accept());
    await a.page.getByRole("button", { name: "Replace my secret" }).click();
    const fresh = (await a.page.locator("#secret-value").textContent()).trim();
    assert.notEqual(fresh, a.secret);
    await a.page.getByRole("tab", { name: "Chat" }).click();
    // The old stream ends within seconds; the next message must still arrive.
    await a.page.waitForTimeout(6000);
    await b.page.getByLabel("Message", { exact: true }).fill("after the rotation");
    await b.page.getByRole("button", { name: "Send", exact: true }).click();
    await a.page.locator(".message", { hasText: "after the rotation" }).waitFor();
    await a.page.locator("#conn[data-status=online]").waitFor();
    assert.deepEqual(a.errors, []);
    await a.context.close();
    await b.context.close();
  });

  test("the API reference lists every method and tries one with the user's token", async () => {
    const a = await newUser("Reader");
    await a.page.getByRole("link", { name: "API reference" }).click();
    await a.page.getByRole("heading", { name: "Foxhole API reference" }).waitFor();
    const methods = await a.page.locator("article.method .method-name").allTextContents();
    for (const m of ["Register", "CreateToken", "RotateSecret", "GetProfile", "UpdateProfile", "GetUser", "UploadFile", "UploadFileStream",
      "GetFile", "DownloadFile", "ListFiles", "DeleteFile", "ShareFile", "RevokeShare", "ListShares", "Subscribe", "SendMessage", "ListPresence"]) assert.ok(methods.includes(m), m);
    const getProfile = a.page.locator("article.method", { has: a.page.locator(".method-name", { hasText: /^GetProfile$/ }) });
    await getProfile.getByRole("button", { name: "Send", exact: true }).click();
    await getProfile.locator("pre.result", { hasText: '"screenName": "Reader"' }).waitFor();
    await getProfile.scrollIntoViewIfNeeded();
    await shot(a.page, "9-docs");
    // Opened directly, /docs is the same page, prerendered.
    const page = await a.context.newPage();
    await page.goto("/docs");
    assert.equal(await page.locator("article.method").count(), methods.length);
    assert.deepEqual(a.errors, []);
    await a.context.close();
  });
});
