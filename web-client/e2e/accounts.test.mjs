// Profiles, avatars, export and account deletion in a real browser
// against a real Foxhole.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { launch, shot, startFoxhole } from "./harness.mjs";

let server, browser;
before(async () => {
  server = await startFoxhole();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

async function newUser(name) {
  const context = await browser.newContext({ baseURL: server.url, acceptDownloads: true });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  page.on("console", (m) => m.type() === "error" && !/Failed to load resource|net::/.test(m.text()) && errors.push(m.text()));
  page.on("dialog", (d) => d.accept());
  await page.goto("/");
  await page.getByLabel("Screen name (optional)").fill(name);
  await page.getByRole("button", { name: "Create account" }).click();
  const secret = (await page.locator("#secret-value").textContent()).trim();
  await page.getByRole("button", { name: "I have saved it: continue" }).click();
  await page.locator("#conn[data-status=online]").waitFor();
  return { context, page, secret, errors };
}

describe("accounts", () => {
  test("bio and avatar with a preview; the avatar shows beside the name in the chat", async () => {
    const a = await newUser("Pictured");
    const b = await newUser("Watcher");
    await a.page.getByRole("tab", { name: "Profile" }).click();
    await a.page.getByLabel("Bio").fill("I like foxes.");
    await a.page.getByRole("button", { name: "Save" }).click();
    await a.page.getByText("Saved.").waitFor();

    await a.page.getByLabel(/Picture/).setInputFiles({ name: "me.png", mimeType: "image/png", buffer: readFileSync(join(import.meta.dirname, "avatar.png")) });
    const preview = a.page.locator("img.avatar-preview");
    await a.page.waitForFunction(() => document.querySelector("img.avatar-preview")?.src.startsWith("data:image/png"));
    await a.page.getByRole("button", { name: "Use this picture" }).click();
    await a.page.getByText("Avatar saved.").waitFor();
    assert.match(await preview.getAttribute("src"), /\/avatars\/.+\?v=.+&size=128$/);
    assert.ok(await preview.evaluate((img) => img.complete && img.naturalWidth === 128));
    await shot(a.page, "accounts-1-avatar");

    // A text file is refused with the server's reason.
    await a.page.getByLabel(/Picture/).setInputFiles({ name: "x.png", mimeType: "image/png", buffer: Buffer.from("not a picture") });
    await a.page.getByRole("button", { name: "Use this picture" }).click();
    await a.page.locator(".toast", { hasText: /Could not save the avatar/ }).waitFor();

    await a.page.getByRole("tab", { name: "Chat" }).click();
    await a.page.getByLabel("Message", { exact: true }).fill("look at my picture");
    await a.page.getByRole("button", { name: "Send" }).click();
    const msg = b.page.locator(".message", { hasText: "look at my picture" });
    await msg.waitFor();
    await msg.locator("img.avatar").waitFor();
    assert.ok(await msg.locator("img.avatar").evaluate((img) => img.complete && img.naturalWidth > 0));
    await shot(b.page, "accounts-2-chat-avatar");
    for (const u of [a, b]) assert.deepEqual(u.errors, []);
    for (const u of [a, b]) await u.context.close();
  });

  test("settings: export my data, then delete my account with its secret", async () => {
    const u = await newUser("Leaving");
    await u.page.getByRole("tab", { name: "Settings" }).click();
    const download = u.page.waitForEvent("download");
    await u.page.getByRole("button", { name: "Download my data" }).click();
    const file = await (await download).path();
    const zip = readFileSync(file);
    assert.equal(zip.subarray(0, 2).toString(), "PK");
    assert.ok(zip.includes(Buffer.from("profile.json")) && zip.includes(Buffer.from("rooms.json")));

    await u.page.getByLabel("Type your secret to confirm").fill("fxs_not-mine");
    await u.page.getByRole("button", { name: "Delete my account" }).click();
    await u.page.locator("#panel-settings .field-error", { hasText: /Could not delete the account/ }).waitFor();
    await shot(u.page, "accounts-3-delete-refused");
    await u.page.getByLabel("Type your secret to confirm").fill(u.secret);
    await u.page.getByRole("button", { name: "Delete my account" }).click();
    await u.page.locator(".toast", { hasText: "Your account is deleted." }).waitFor();
    // The secret no longer signs in.
    await u.page.getByLabel("Your secret").fill(u.secret);
    await u.page.getByRole("button", { name: "Sign in" }).click();
    await u.page.getByText(/Could not sign in/).waitFor();
    assert.deepEqual(u.errors, []);
    await u.context.close();
  });
});
