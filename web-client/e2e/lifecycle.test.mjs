// Editing, deleting, typing and blocking in the web app, with several
// people in browser contexts of their own, against a real Foxhole.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
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

// newUser opens a context, registers and lands in the app's Chat tab.
async function newUser(name) {
  const context = await browser.newContext({ baseURL: server.url });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  page.on("console", (m) => m.type() === "error" && !/Failed to load resource|net::/.test(m.text()) && errors.push(m.text()));
  await page.goto("/");
  await page.getByLabel("Screen name (optional)").fill(name);
  await page.getByRole("button", { name: "Create account" }).click();
  const secret = (await page.locator("#secret-value").textContent()).trim();
  await page.getByRole("button", { name: "I have saved it: continue" }).click();
  await page.locator("#conn[data-status=online]").waitFor();
  return { context, page, secret, errors, name };
}

const chatLog = (u) => u.page.locator("#panel-chat .messages");
const roomLog = (u) => u.page.locator(".room-view .room-log");

async function say(u, text) {
  await u.page.locator("#panel-chat").getByLabel("Message", { exact: true }).fill(text);
  await u.page.locator("#panel-chat").getByRole("button", { name: "Send", exact: true }).click();
  await chatLog(u).locator(".message", { hasText: text }).waitFor();
}

describe("message lifecycle", () => {
  test("edit and delete a lobby message, seen live and after a reload by another user; a room's owner deletes a member's message", async () => {
    const a = await newUser("Editor");
    const b = await newUser("Reader");
    await a.page.locator(".people", { hasText: "Reader" }).waitFor();
    await say(a, "teh first draft");
    const seen = chatLog(b).locator(".message", { hasText: "teh first draft" });
    await seen.waitFor();
    // Only the sender is offered to edit or delete.
    assert.equal(await seen.getByRole("button", { name: "Edit message" }).count(), 0);
    assert.equal(await seen.getByRole("button", { name: "Delete message" }).count(), 0);

    const mine = chatLog(a).locator(".message", { hasText: "teh first draft" });
    await mine.getByRole("button", { name: "Edit message" }).click();
    await mine.getByLabel("Edit message text").fill("the first draft");
    await mine.getByLabel("Edit message text").press("Enter");
    await chatLog(a).locator(".message", { hasText: "the first draft" }).filter({ hasText: "(edited)" }).waitFor();
    await chatLog(b).locator(".message", { hasText: "the first draft" }).filter({ hasText: "(edited)" }).waitFor();
    await shot(b.page, "20-edited");

    a.page.once("dialog", (d) => d.accept());
    await chatLog(a).locator(".message", { hasText: "the first draft" }).getByRole("button", { name: "Delete message" }).click();
    await chatLog(b).locator(".message.deleted", { hasText: "message deleted" }).waitFor();
    assert.equal(await chatLog(b).locator(".message", { hasText: "first draft" }).count(), 0);
    // In history too: a reload replays the tombstone, not the text.
    await b.page.reload();
    await b.page.getByLabel("Your secret").fill(b.secret);
    await b.page.getByRole("button", { name: "Sign in" }).click();
    await b.page.locator("#conn[data-status=online]").waitFor();
    await chatLog(b).locator(".message.deleted", { hasText: "message deleted" }).waitFor();
    assert.equal(await chatLog(b).locator(".message", { hasText: "first draft" }).count(), 0);

    // A room: the owner deletes what a member said; the member sees it go.
    await a.page.getByRole("tab", { name: "Rooms" }).click();
    await a.page.getByText("New room", { exact: true }).click();
    await a.page.getByLabel("Room name").fill("Parlour");
    await a.page.getByLabel(/Public: anyone/).check();
    await a.page.getByRole("button", { name: "Create room" }).click();
    await a.page.getByRole("heading", { name: "Parlour", exact: true }).waitFor();
    await b.page.getByRole("tab", { name: "Rooms" }).click();
    await b.page.getByText("Find public rooms", { exact: true }).click();
    await b.page.getByLabel("Search public rooms by name").fill("parlour");
    await b.page.locator(".directory li", { hasText: "Parlour" }).getByRole("button", { name: "Join Parlour" }).click();
    await b.page.getByRole("heading", { name: "Parlour", exact: true }).waitFor();
    await roomLog(a).locator(".room-event", { hasText: "Reader joined" }).waitFor();
    await b.page.locator(".room-view").getByLabel("Message", { exact: true }).fill("something rude");
    await b.page.locator(".room-view").getByRole("button", { name: "Send", exact: true }).click();
    const rude = roomLog(a).locator(".message", { hasText: "something rude" });
    await rude.waitFor();
    a.page.once("dialog", (d) => d.accept());
    await rude.getByRole("button", { name: "Delete message" }).click();
    await roomLog(b).locator(".message.deleted", { hasText: "message deleted" }).waitFor();
    assert.equal(await roomLog(b).locator(".message", { hasText: "something rude" }).count(), 0);
    for (const u of [a, b]) assert.deepEqual(u.errors, []);
    for (const u of [a, b]) await u.context.close();
  });

  test("typing to a user shows under the peer's conversation", async () => {
    const a = await newUser("Typist");
    const b = await newUser("Peer");
    await a.page.getByRole("button", { name: "Message Peer privately" }).click();
    await a.page.locator("#panel-chat").getByLabel("Message", { exact: true }).pressSequentially("hello th", { delay: 20 });
    await b.page.locator("#panel-chat .typing", { hasText: "Typist is typing…" }).waitFor();
    await shot(b.page, "21-typing");
    // The message ends the typing.
    await a.page.keyboard.type("ere");
    await a.page.keyboard.press("Enter");
    await chatLog(b).locator(".message", { hasText: "hello there" }).waitFor();
    assert.equal(await b.page.locator("#panel-chat .typing").textContent(), "");
    for (const u of [a, b]) assert.deepEqual(u.errors, []);
    for (const u of [a, b]) await u.context.close();
  });

  test("blocking hides a user's lobby messages; unblocking in Profile shows them again", async () => {
    const a = await newUser("Blocker");
    const b = await newUser("Noisy");
    const c = await newUser("Quiet");
    await say(b, "before the block");
    const before = chatLog(a).locator(".message", { hasText: "before the block" });
    await before.waitFor();

    await before.getByRole("button", { name: "Noisy" }).click();
    a.page.once("dialog", (d) => d.accept());
    await before.getByRole("button", { name: "Block Noisy" }).click();
    await before.waitFor({ state: "hidden" });
    await say(b, "while blocked");
    await say(c, "a marker after it");
    await chatLog(a).locator(".message", { hasText: "a marker after it" }).waitFor();
    assert.equal(await chatLog(a).locator(".message:visible", { hasText: /Noisy|while blocked|before the block/ }).count(), 0);

    await a.page.getByRole("tab", { name: "Profile" }).click();
    const list = a.page.getByRole("list", { name: "Blocked users" });
    await list.locator("li", { hasText: "Noisy" }).waitFor();
    await shot(a.page, "22-blocked");
    await a.page.getByRole("button", { name: "Unblock Noisy" }).click();
    await list.locator("li", { hasText: "Noisy" }).waitFor({ state: "detached" });
    await a.page.getByRole("tab", { name: "Chat" }).click();
    await before.waitFor();
    await say(b, "after the unblock");
    await chatLog(a).locator(".message", { hasText: "after the unblock" }).waitFor();
    for (const u of [a, b, c]) assert.deepEqual(u.errors, []);
    for (const u of [a, b, c]) await u.context.close();
  });
});
