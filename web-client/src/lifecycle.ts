// Message lifecycle in the web app: a message's body (its text, "edited",
// or the tombstone of a deleted one), editing and deleting from the
// message, edits and deletions arriving from the stream, "X is typing…",
// and blocking users.
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { ChatMessage, Event, MessageDeleted, MessageEdited, Typing } from "./gen/foxhole/v1/realtime_pb";
import type { UserRef } from "./gen/foxhole/v1/user_pb";
import { realtime } from "./events";
import { me } from "./session";
import { explain } from "./errors";
import { h, time, toast } from "./dom";

// A peer's typing shows this long after its last typing event.
export const TYPING_SHOWN_MS = 5_000;
// Typing is sent at most this often while the user types.
export const TYPING_EVERY_MS = 3_000;

const sel = (id: bigint) => `li[data-event-id="${id}"]`;

// setBody shows a message's text and whether it was edited, or its
// tombstone.
function setBody(item: HTMLElement, content: string, deleted: boolean, editedAt?: Date) {
  const body = item.querySelector<HTMLElement>(":scope > .content")!;
  item.classList.toggle("deleted", deleted);
  if (deleted) {
    body.replaceChildren(h("em", { class: "tombstone" }, "message deleted"));
    item.querySelector(":scope > .actions")?.remove();
    item.querySelector(":scope > form.edit")?.remove();
    body.hidden = false;
    return;
  }
  body.replaceChildren(content);
  if (editedAt) {
    body.append(" ", h("span", { class: "edited muted", title: `edited at ${editedAt.toLocaleString()}` }, "(edited)"));
  }
}

export interface BodyOptions {
  // canDelete: whether the user may delete the message (its sender may;
  // so may a room's owner or admin).
  canDelete: boolean;
}

// messageBody fills a message's item: the content, then its actions: edit
// (the sender's, while the message is kept) and delete.
export function messageBody(item: HTMLElement, ev: Event, m: ChatMessage, o: BodyOptions) {
  const body = h("span", { class: "content" });
  item.append(body);
  item.dataset.senderId = m.sender?.id ?? "";
  setBody(item, m.content, m.deleted, m.editedAt ? timestampDate(m.editedAt) : undefined);
  if (m.deleted) return;
  const mine = m.sender?.id === me?.id;
  if (!mine && !o.canDelete) return;
  const actions = h("span", { class: "actions" });
  if (mine) {
    const edit = h("button", { type: "button", class: "link", "aria-label": "Edit message" }, "Edit");
    edit.addEventListener("click", () => startEdit(item, ev.id));
    actions.append(edit);
  }
  const del = h("button", { type: "button", class: "link", "aria-label": "Delete message" }, "Delete");
  del.addEventListener("click", async () => {
    if (!confirm(mine ? "Delete your message? Its text is erased for everyone." : `Delete ${m.sender?.screenName || "this user"}'s message? Its text is erased for everyone.`)) return;
    try {
      await realtime.deleteMessage({ eventId: ev.id });
      setBody(item, "", true);
    } catch (err) {
      toast(explain(err, "delete the message"));
    }
  });
  actions.append(del);
  item.append(actions);
}

// startEdit swaps a message's text for a form that edits it.
function startEdit(item: HTMLElement, eventId: bigint) {
  if (item.querySelector(":scope > form.edit")) return;
  const body = item.querySelector<HTMLElement>(":scope > .content")!;
  const current = body.firstChild?.textContent ?? "";
  const field = h("textarea", { name: "content", rows: 2, required: true, maxlength: 4096, "aria-label": "Edit message text" });
  field.value = current;
  const error = h("p", { class: "field-error", role: "alert" });
  const cancel = h("button", { type: "button", class: "secondary" }, "Cancel");
  const form = h("form", { class: "edit" }, field, error, h("div", { class: "row" }, h("button", { type: "submit" }, "Save"), cancel));
  const done = () => { form.remove(); body.hidden = false; };
  cancel.addEventListener("click", done);
  field.addEventListener("keydown", (e) => {
    if (e.key === "Escape") done();
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); }
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!field.value.trim()) return;
    try {
      const res = await realtime.editMessage({ eventId, content: field.value });
      const m = res.event?.payload.case === "chatMessage" ? res.event.payload.value : undefined;
      done();
      if (m) setBody(item, m.content, m.deleted, m.editedAt ? timestampDate(m.editedAt) : new Date());
    } catch (err) {
      error.textContent = explain(err, "edit the message");
    }
  });
  body.hidden = true;
  body.after(form);
  field.focus();
}

// applyChange applies an edit or a deletion from the stream (or a page of
// history) to the message it names, if log shows it.
export function applyChange(log: HTMLElement, ev: Event) {
  if (ev.payload.case === "messageEdited") {
    const e: MessageEdited = ev.payload.value;
    const item = log.querySelector<HTMLElement>(sel(e.eventId));
    if (item && !item.classList.contains("deleted")) setBody(item, e.content, false, e.editedAt ? timestampDate(e.editedAt) : new Date());
  } else if (ev.payload.case === "messageDeleted") {
    const d: MessageDeleted = ev.payload.value;
    const item = log.querySelector<HTMLElement>(sel(d.eventId));
    if (item) setBody(item, "", true);
  }
}

// typingIndicator shows who is typing, each for TYPING_SHOWN_MS after
// their last typing event or until their next message.
export function typingIndicator() {
  const el = h("p", { class: "typing muted", "aria-live": "polite" });
  const typists = new Map<string, { name: string; timer: ReturnType<typeof setTimeout> }>();
  const render = () => {
    const names = [...typists.values()].map((t) => t.name);
    el.textContent = names.length === 0 ? "" : names.length === 1 ? `${names[0]} is typing…` : `${names.join(", ")} are typing…`;
  };
  const stop = (id: string) => {
    const t = typists.get(id);
    if (!t) return;
    clearTimeout(t.timer);
    typists.delete(id);
    render();
  };
  return {
    el,
    typing(t: Typing) {
      const u = t.user;
      if (!u || u.id === me?.id) return;
      clearTimeout(typists.get(u.id)?.timer);
      typists.set(u.id, { name: u.screenName || u.id, timer: setTimeout(() => stop(u.id), TYPING_SHOWN_MS) });
      render();
    },
    // messaged: the user sent a message, which ends their typing.
    messaged: (u?: UserRef) => { if (u) stop(u.id); },
    clear() { for (const id of [...typists.keys()]) stop(id); },
  };
}

// typingSender calls send at most every TYPING_EVERY_MS while the user
// types into field; target says where to, or undefined where typing is
// not sent (the lobby). Refusals (rate, a block) are not the user's
// concern.
export function typingSender(field: HTMLTextAreaElement | HTMLInputElement, target: () => { roomId?: string; recipientId?: string } | undefined) {
  let last = 0, lastTarget = "";
  field.addEventListener("input", () => {
    const to = target();
    if (!to || !field.value.trim()) return;
    const key = `${to.roomId ?? ""}/${to.recipientId ?? ""}`;
    const now = Date.now();
    if (key === lastTarget && now - last < TYPING_EVERY_MS) return;
    last = now;
    lastTarget = key;
    realtime.sendTyping(to).catch(() => {});
  });
  // After a message is sent, the next keystroke says so again at once.
  return { sent() { last = 0; } };
}

// Blocking. The users blocked, as far as this page knows; "change" fires
// on the target when it changes.
export const blocks = new EventTarget();
export const blocked = new Map<string, string>();

export async function loadBlocked() {
  const res = await realtime.listBlockedUsers({});
  blocked.clear();
  for (const u of res.users) blocked.set(u.id, u.screenName || u.id);
  blocks.dispatchEvent(new Event("change"));
}

export async function block(u: UserRef) {
  await realtime.blockUser({ userId: u.id });
  blocked.set(u.id, u.screenName || u.id);
  blocks.dispatchEvent(new Event("change"));
}

export async function unblock(id: string) {
  await realtime.unblockUser({ userId: id });
  blocked.delete(id);
  blocks.dispatchEvent(new Event("change"));
}

// hideBlocked hides the messages in log of users blocked, and shows the
// others again.
export function hideBlocked(log: HTMLElement) {
  for (const item of log.querySelectorAll<HTMLElement>("li[data-sender-id]")) {
    item.hidden = blocked.has(item.dataset.senderId ?? "");
  }
}

// senderName is a message's sender: another user's name is a button that
// offers to block them.
export function senderName(u: UserRef | undefined, mine: boolean): HTMLElement {
  const name = mine ? "You" : u?.screenName || u?.id || "?";
  if (mine || !u?.id) return h("strong", {}, name);
  const button = h("button", { type: "button", class: "link sender", "aria-haspopup": "true", "aria-expanded": "false" }, h("strong", {}, name));
  const wrap = h("span", { class: "sender-menu" }, button);
  button.addEventListener("click", () => {
    const open = wrap.querySelector(".menu");
    if (open) { open.remove(); button.setAttribute("aria-expanded", "false"); return; }
    const b = h("button", { type: "button", class: "secondary" }, `Block ${name}`);
    b.addEventListener("click", async () => {
      if (!confirm(`Block ${name}? None of their messages or typing reach you, and their direct messages to you are refused. You can unblock them in Profile.`)) return;
      try {
        await block(u);
        toast(`You blocked ${name}.`, "info");
      } catch (err) {
        toast(explain(err, `block ${name}`));
      }
      menu.remove();
      button.setAttribute("aria-expanded", "false");
    });
    const menu = h("span", { class: "menu" }, b);
    wrap.append(menu);
    button.setAttribute("aria-expanded", "true");
  });
  return wrap;
}

// blockedSection lists the users blocked, each with a button to unblock.
export function blockedSection(): HTMLElement {
  const list = h("ul", { class: "blocked", "aria-label": "Blocked users" });
  const empty = h("p", { class: "muted" }, "You block no one.");
  const render = () => {
    const users = [...blocked].sort((a, b) => a[1].localeCompare(b[1]));
    empty.hidden = users.length > 0;
    list.replaceChildren(...users.map(([id, name]) => {
      const b = h("button", { type: "button", class: "secondary", "aria-label": `Unblock ${name}` }, "Unblock");
      b.addEventListener("click", async () => {
        try {
          await unblock(id);
        } catch (err) {
          toast(explain(err, `unblock ${name}`));
        }
      });
      return h("li", {}, h("span", {}, name, " ", h("code", { class: "muted" }, id)), " ", b);
    }));
  };
  blocks.addEventListener("change", render);
  render();
  loadBlocked().catch((err) => toast(explain(err, "list the users you block")));
  return h("div", { class: "card", "aria-labelledby": "blocked-h" },
    h("h2", { id: "blocked-h" }, "Blocked users"),
    h("p", {}, "Their messages, edits and typing do not reach you, and their direct messages to you are refused. Unblocking lets their new messages through again."),
    empty, list);
}

export const stamp = (ev: Event) => {
  const at = ev.createdAt ? timestampDate(ev.createdAt) : new Date();
  return h("time", { datetime: at.toISOString() }, time(at));
};
