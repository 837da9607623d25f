// Rooms in the web app, with two people in two browser contexts, against a
// real Foxhole.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { launch, shot, startFoxhole } from "./harness.mjs";

let server, browser;
before(async () => {
  // History is seeded through the API faster than a person types.
  server = await startFoxhole({ FOXHOLE_MESSAGE_RATE: "1000", FOXHOLE_MESSAGE_BURST: "1000" });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

// api calls a procedure with Connect's JSON encoding, as the secret's owner.
async function api(secret, method, body) {
  const post = async (path, payload, token) => {
    const res = await fetch(`${server.url}/${path}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Connect-Protocol-Version": "1", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(payload),
    });
    const json = await res.json();
    if (!res.ok) throw Object.assign(new Error(`${path}: ${json.code}: ${json.message}`), { code: json.code });
    return json;
  };
  const { accessToken } = await post("foxhole.v1.AuthService/CreateToken", { userSecret: secret });
  return post(method, body, accessToken);
}

// newUser opens a context, registers and lands in the app's Rooms tab.
async function newUser(name, options = {}) {
  const context = await browser.newContext({ baseURL: server.url, ...options });
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
  await page.getByRole("tab", { name: "Profile" }).click();
  const id = (await page.locator(".user-id").textContent()).trim();
  await page.getByRole("tab", { name: "Rooms" }).click();
  return { context, page, secret, id, errors, name };
}

const roomItem = (u, name) => u.page.locator(".room-list li", { hasText: name });
const roomLog = (u) => u.page.locator(".room-view .room-log");

async function createRoom(u, name, { topic = "", visibility = "private" } = {}) {
  await u.page.getByText("New room", { exact: true }).click();
  await u.page.getByLabel("Room name").fill(name);
  if (topic) await u.page.getByLabel("Topic (optional)").fill(topic);
  if (visibility === "public") await u.page.getByLabel(/Public: anyone/).check();
  await u.page.getByRole("button", { name: "Create room" }).click();
  await u.page.getByRole("heading", { name, exact: true }).waitFor();
  return u.page.locator(".room-view").getAttribute("data-room-id");
}

// invite has the owner invite the guest from the open room, and the guest
// join from its invitation.
async function inviteAndJoin(owner, guest, name) {
  await owner.page.getByLabel("Invite by user id").fill(guest.id);
  await owner.page.getByRole("button", { name: "Invite", exact: true }).click();
  await owner.page.locator(".room-event", { hasText: `You invited ${guest.name}` }).waitFor();
  await guest.page.locator(".room-list li.invited", { hasText: name }).waitFor();
  await guest.page.getByRole("button", { name: `Join ${name}` }).click();
  await guest.page.getByRole("heading", { name, exact: true }).waitFor();
  await owner.page.locator(".room-event", { hasText: `${guest.name} joined` }).waitFor();
}

async function send(u, text) {
  await u.page.locator(".room-view").getByLabel("Message", { exact: true }).fill(text);
  await u.page.locator(".room-view").getByRole("button", { name: "Send", exact: true }).click();
  await roomLog(u).locator(".message", { hasText: text }).waitFor();
}

describe("rooms", () => {
  test("create a private room, invite, join, talk both ways, members and who is online", async () => {
    const a = await newUser("Owner");
    const b = await newUser("Guest");
    await createRoom(a, "Den", { topic: "a quiet place" });
    await a.page.locator(".room-view .topic", { hasText: "a quiet place" }).waitFor();
    await roomLog(a).locator(".room-event", { hasText: /You (created the room|joined)/ }).waitFor();
    await inviteAndJoin(a, b, "Den");
    // Signed in afresh elsewhere, Guest finds the room in its list.
    const again = await b.context.newPage();
    await again.goto("/");
    await again.getByLabel("Your secret").fill(b.secret);
    await again.getByRole("button", { name: "Sign in" }).click();
    await again.getByRole("tab", { name: "Rooms" }).click();
    await again.locator(".room-list li", { hasText: "Den" }).waitFor();
    await again.close();
    // Both are members, and both are online.
    for (const u of [a, b]) {
      for (const name of ["Owner", "Guest"]) await u.page.locator(".room-view .members li", { hasText: name }).waitFor();
      for (const name of ["Owner", "Guest"]) await u.page.locator(".room-view .room-online li", { hasText: name }).waitFor();
    }
    await a.page.locator(".room-view .members li", { hasText: "Guest" }).filter({ hasText: "member" }).waitFor();
    await a.page.locator(".room-view .members li", { hasText: "Owner" }).filter({ hasText: "owner" }).waitFor();
    await send(a, "hello Guest");
    await roomLog(b).locator(".message", { hasText: "hello Guest" }).waitFor();
    await send(b, "hi Owner");
    await roomLog(a).locator(".message", { hasText: "hi Owner" }).waitFor();
    // Room messages stay out of the lobby.
    await a.page.getByRole("tab", { name: "Chat" }).click();
    assert.equal(await a.page.locator("#panel-chat .message", { hasText: /hello Guest|hi Owner/ }).count(), 0);
    await a.page.getByRole("tab", { name: "Rooms" }).click();
    await shot(a.page, "10-room");
    // Guest goes offline: Owner sees it in the room.
    await b.context.close();
    await a.page.locator(".room-view .room-online li", { hasText: "Guest" }).waitFor({ state: "detached" });
    assert.deepEqual(a.errors, []);
    assert.deepEqual(b.errors, []);
    await a.context.close();
  });

  test("an invitation waits for an invitee who was away", async () => {
    const a = await newUser("Inviter");
    const b = await newUser("Absent");
    await b.page.getByRole("button", { name: "Sign out" }).click();
    await createRoom(a, "Later");
    await a.page.getByLabel("Invite by user id").fill(b.id);
    await a.page.getByRole("button", { name: "Invite", exact: true }).click();
    await a.page.locator(".room-event", { hasText: "You invited Absent" }).waitFor();
    await b.page.getByLabel("Your secret").fill(b.secret);
    await b.page.getByRole("button", { name: "Sign in" }).click();
    await b.page.getByRole("tab", { name: "Rooms" }).click();
    await b.page.locator(".room-list li.invited", { hasText: "Later" }).waitFor();
    await b.page.getByRole("button", { name: "Decline Later" }).click();
    await b.page.locator(".room-list li", { hasText: "Later" }).waitFor({ state: "detached" });
    await a.page.locator(".room-event", { hasText: "Absent left" }).waitFor();
    assert.deepEqual(b.errors, []);
    await a.context.close();
    await b.context.close();
  });

  test("the unread count moves with messages and clears when the room is read", async () => {
    const a = await newUser("Talker");
    const b = await newUser("Reader");
    const id = await createRoom(a, "Counting");
    await inviteAndJoin(a, b, "Counting");
    // Reader looks at another room while Talker writes.
    await createRoom(b, "Elsewhere");
    for (const text of ["one", "two", "three"]) await send(a, `count ${text}`);
    const badge = roomItem(b, "Counting").locator(".unread");
    await badge.filter({ hasText: /^3$/ }).waitFor();
    assert.equal(await roomItem(b, "Elsewhere").locator(".unread").isVisible(), false);
    await shot(b.page, "11-unread");
    // Opening the room reads it: the count goes, here and on the server.
    const marked = b.page.waitForResponse((r) => r.url().endsWith("/foxhole.v1.RoomService/MarkRead") && r.ok());
    await roomItem(b, "Counting").getByRole("button").click();
    await roomLog(b).locator(".message", { hasText: "count three" }).waitFor();
    await badge.waitFor({ state: "hidden" });
    await marked;
    assert.equal((await api(b.secret, "foxhole.v1.RoomService/GetRoom", { roomId: id })).room.unreadCount ?? 0, 0);
    // While the room is on screen new messages are read as they come.
    await send(a, "count four");
    await roomLog(b).locator(".message", { hasText: "count four" }).waitFor();
    assert.equal(await badge.isVisible(), false);
    // On another tab, they count again.
    await b.page.getByRole("tab", { name: "Chat" }).click();
    await send(a, "count five");
    await b.page.getByRole("tab", { name: "Rooms" }).click();
    await roomLog(b).locator(".message", { hasText: "count five" }).waitFor();
    await badge.waitFor({ state: "hidden" });
    assert.deepEqual(b.errors, []);
    await a.context.close();
    await b.context.close();
  });

  test("scrolling up loads older history, a page at a time, in order", async () => {
    const a = await newUser("Historian");
    // The room and 120 messages come through the API; the app hears of the
    // room from the stream.
    const { room } = await api(a.secret, "foxhole.v1.RoomService/CreateRoom", { name: "Archive" });
    for (let i = 1; i <= 120; i++) {
      await api(a.secret, "foxhole.v1.RealtimeService/SendMessage", { roomId: room.id, content: `seed ${String(i).padStart(3, "0")}` });
    }
    await roomItem(a, "Archive").waitFor();
    await roomItem(a, "Archive").getByRole("button").click();
    const log = roomLog(a);
    await log.locator(".message", { hasText: "seed 120" }).waitFor();
    // The latest page only, scrolled to its end.
    assert.equal(await log.locator(".message", { hasText: "seed 001" }).count(), 0);
    assert.ok(await log.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight < 40), "the log starts at its end");
    const before = await log.locator(".message").count();
    assert.ok(before < 120, `${before} messages on the first page`);
    // Scrolling to the top loads the page before, keeping the view in place.
    await log.evaluate((el) => (el.scrollTop = 0));
    await log.locator(".message", { hasText: "seed 021" }).waitFor();
    assert.ok(await log.evaluate((el) => el.scrollTop > 0), "the messages read stay in view");
    assert.equal(await log.locator(".message", { hasText: "seed 001" }).count(), 0);
    for (let i = 0; i < 20 && !(await log.locator(".message", { hasText: "seed 001" }).count()); i++) {
      await log.evaluate((el) => (el.scrollTop = 0));
      await a.page.waitForTimeout(250);
    }
    await log.locator(".message", { hasText: "seed 001" }).waitFor();
    await a.page.locator(".room-view .history-status", { hasText: "The beginning" }).waitFor();
    const got = (await log.locator(".message .content").allTextContents()).filter((t) => t.startsWith("seed "));
    assert.deepEqual(got, Array.from({ length: 120 }, (_, i) => `seed ${String(i + 1).padStart(3, "0")}`));
    await shot(a.page, "12-history");
    assert.deepEqual(a.errors, []);
    await a.context.close();
  });

  test("a removed member loses the room, with a notice, and can no longer read it", async () => {
    const a = await newUser("Keeper");
    const b = await newUser("Visitor");
    const id = await createRoom(a, "Club");
    await inviteAndJoin(a, b, "Club");
    await send(b, "glad to be here");
    await a.page.locator(".room-view .members li", { hasText: "Visitor" }).waitFor();
    a.page.once("dialog", (d) => d.accept());
    await a.page.getByRole("button", { name: "Remove Visitor" }).click();
    await roomLog(a).locator(".room-event", { hasText: "You removed Visitor" }).waitFor();
    await roomItem(b, "Club").waitFor({ state: "detached" });
    await b.page.locator(".rooms .notice", { hasText: "Keeper removed you from Club." }).first().waitFor();
    assert.equal(await b.page.locator(".room-view").count(), 0);
    await shot(b.page, "13-removed");
    // Keeper's next message reaches no one but Keeper.
    await send(a, "after the removal");
    await assert.rejects(api(b.secret, "foxhole.v1.RealtimeService/ListMessages", { roomId: id }), (e) => e.code === "not_found");
    await a.page.getByRole("tab", { name: "Chat" }).click();
    await a.page.getByRole("tab", { name: "Rooms" }).click();
    assert.equal(await b.page.getByText("after the removal").count(), 0);
    assert.deepEqual(a.errors, []);
    assert.deepEqual(b.errors, []);
    await a.context.close();
    await b.context.close();
  });

  test("find a public room by name, join it, leave it", async () => {
    const a = await newUser("Host");
    const b = await newUser("Passerby");
    await createRoom(a, "Plaza Central", { topic: "everyone welcome", visibility: "public" });
    await createRoom(a, "Back Office");
    await roomItem(a, "Plaza Central").getByRole("button").click();
    await a.page.getByRole("heading", { name: "Plaza Central", exact: true }).waitFor();
    await b.page.getByText("Find public rooms", { exact: true }).click();
    await b.page.getByLabel("Search public rooms by name").fill("plaza");
    const hit = b.page.locator(".directory li", { hasText: "Plaza Central" });
    await hit.waitFor();
    assert.equal(await b.page.locator(".directory li", { hasText: "Back Office" }).count(), 0);
    await hit.getByRole("button", { name: "Join Plaza Central" }).click();
    await b.page.getByRole("heading", { name: "Plaza Central", exact: true }).waitFor();
    await roomItem(b, "Plaza Central").waitFor();
    await roomLog(a).locator(".room-event", { hasText: "Passerby joined" }).waitFor();
    b.page.once("dialog", (d) => d.accept());
    await b.page.getByRole("button", { name: "Leave room" }).click();
    await roomItem(b, "Plaza Central").waitFor({ state: "detached" });
    await b.page.locator(".rooms .notice", { hasText: "You left Plaza Central." }).first().waitFor();
    await roomLog(a).locator(".room-event", { hasText: "Passerby left" }).waitFor();
    assert.deepEqual(a.errors, []);
    assert.deepEqual(b.errors, []);
    await a.context.close();
    await b.context.close();
  });
});
