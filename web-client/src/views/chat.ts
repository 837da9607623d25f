import { avatarImg } from "../avatar";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { ChatMessage, Event } from "../gen/foxhole/v1/realtime_pb";
import { realtime } from "../events";
import { me, profileClient } from "../session";
import { explain } from "../errors";
import { h, time, uid } from "../dom";
import { applyChange, blocked, blocks, hideBlocked, messageBody, senderName, typingIndicator, typingSender } from "../lifecycle";

// At most this many messages stay on the page.
const KEEP = 500;

export interface ChatView {
  el: HTMLElement;
  message(e: Event, m: ChatMessage): void;
  // presence applies a presence event: each stream's first is a snapshot
  // of everyone online, the later ones who came and went since.
  presence(e: Event): void;
  // change applies an edit or a deletion of a lobby or direct message.
  change(e: Event): void;
  // typing shows that a peer is typing to the user.
  typing(e: Event): void;
}

export function chatView(): ChatView {
  const online = new Map<string, string>();
  const names = new Map<string, string>();
  const seen = new Set<bigint>();

  const log = h("ol", { class: "messages", "aria-label": "Messages", "aria-live": "polite", tabindex: 0 });
  const people = h("ul", { class: "people", "aria-label": "Online now" });
  const textId = uid("msg"), toId = uid("to");
  const text = h("textarea", { id: textId, name: "content", rows: 2, required: true, maxlength: 4096 });
  const to = h("select", { id: toId, name: "recipient" });
  const error = h("p", { class: "field-error", role: "alert" });
  const form = h("form", { class: "compose" },
    h("label", { for: toId }, "To"), to,
    h("label", { for: textId }, "Message"), text,
    error,
    h("button", { type: "submit" }, "Send"));
  // The lobby has no typing: it goes to the one user chosen.
  const typist = typingSender(text, () => (to.value ? { recipientId: to.value } : undefined));
  const typing = typingIndicator();
  blocks.addEventListener("change", () => hideBlocked(log));

  function renderPeople() {
    const list = [...online].filter(([id]) => id !== me?.id).sort((a, b) => a[1].localeCompare(b[1]));
    people.replaceChildren(
      h("li", {}, `${me?.screenName ?? "You"} (you)`),
      ...list.map(([id, name]) => {
        const b = h("button", { type: "button", class: "link", "aria-label": `Message ${name} privately` }, name);
        b.addEventListener("click", () => { to.value = id; text.focus(); });
        return h("li", {}, b);
      }));
    const chosen = to.value;
    to.replaceChildren(h("option", { value: "" }, "Everyone"),
      ...list.map(([id, name]) => h("option", { value: id }, `${name} (private)`)));
    if (chosen && (online.has(chosen) || chosen === "")) to.value = chosen;
    else if (chosen) {
      to.append(h("option", { value: chosen }, `${names.get(chosen) ?? chosen} (private, offline)`));
      to.value = chosen;
    }
  }

  async function nameOf(id: string): Promise<string> {
    const known = online.get(id) ?? names.get(id);
    if (known) return known;
    try {
      const u = (await profileClient.getUser({ id })).user;
      names.set(id, u?.screenName ?? id);
    } catch {
      names.set(id, id);
    }
    return names.get(id)!;
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = "";
    const content = text.value;
    if (!content.trim()) return;
    const button = form.querySelector("button")!;
    button.disabled = true;
    try {
      await realtime.sendMessage({ content, recipientId: to.value });
      text.value = "";
      typist.sent();
    } catch (err) {
      error.textContent = explain(err, "send the message");
    } finally {
      button.disabled = false;
      text.focus();
    }
  });
  text.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); }
  });

  const el = h("section", { class: "card chat", "aria-labelledby": "chat-h" },
    h("h2", { id: "chat-h" }, "Chat"),
    h("div", { class: "chat-grid" },
      h("div", { class: "chat-main" }, log, typing.el, form),
      h("aside", { "aria-labelledby": "online-h" }, h("h3", { id: "online-h" }, "Online now"), people)));
  renderPeople();

  // A truncated snapshot names only some of the users online: the rest are
  // listed, page by page, while changes keep coming. A user a change named
  // meanwhile keeps what the change said (changes are never older than the
  // listing once applied in order); the others are as the listing says.
  let completing: { touched: Set<string> } | undefined;
  async function complete() {
    const c = { touched: new Set<string>() };
    completing = c;
    const listed = new Map<string, string>();
    let pageToken = "";
    try {
      do {
        const res = await realtime.listPresence({ pageToken });
        for (const u of res.users) listed.set(u.id, u.screenName);
        pageToken = res.nextPageToken;
      } while (pageToken);
    } catch {
      return; // the snapshot's users and the changes since stay shown
    }
    if (completing !== c) return; // a newer snapshot replaced this one
    completing = undefined;
    for (const id of [...online.keys()]) if (!c.touched.has(id) && !listed.has(id)) online.delete(id);
    for (const [id, name] of listed) if (!c.touched.has(id)) online.set(id, name);
    renderPeople();
  }

  return {
    el,
    message(ev, m) {
      if (seen.has(ev.id)) return;
      seen.add(ev.id);
      if (m.sender) names.set(m.sender.id, m.sender.screenName);
      const mine = m.sender?.id === me?.id;
      const at = ev.createdAt ? timestampDate(ev.createdAt) : new Date();
      const label = h("span", { class: "private" });
      const item = h("li", { class: `message${mine ? " mine" : ""}${m.recipientId ? " personal" : ""}`, "data-event-id": ev.id.toString() },
        h("span", { class: "meta" }, avatarImg(m.sender?.id), senderName(m.sender, mine), " ", label,
          h("time", { datetime: at.toISOString() }, time(at))));
      messageBody(item, ev, m, { canDelete: mine });
      item.hidden = blocked.has(m.sender?.id ?? "");
      typing.messaged(m.sender);
      if (m.recipientId) {
        if (m.recipientId === me?.id) label.textContent = "privately to you";
        else {
          label.textContent = "privately";
          void nameOf(m.recipientId).then((n) => (label.textContent = `privately to ${n}`));
        }
      }
      const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
      log.append(item);
      while (log.children.length > KEEP) log.firstElementChild!.remove();
      if (atBottom || mine) log.scrollTop = log.scrollHeight;
    },
    change(ev) {
      applyChange(log, ev);
    },
    typing(ev) {
      if (ev.payload.case === "typing" && !ev.payload.value.roomId) typing.typing(ev.payload.value);
    },
    presence(ev) {
      if (ev.payload.case !== "presence") return;
      const p = ev.payload.value;
      if (p.snapshot) { online.clear(); completing = undefined; }
      for (const u of p.left) { online.delete(u.id); completing?.touched.add(u.id); }
      for (const u of p.joined) { online.set(u.id, u.screenName); completing?.touched.add(u.id); }
      if (p.snapshot && p.truncated) void complete();
      renderPeople();
    },
  };
}
