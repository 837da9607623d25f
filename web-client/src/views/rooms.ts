// Rooms: the caller's rooms with their unread counts (kept current from the
// one Subscribe stream), creating, finding, joining and leaving rooms,
// invitations, and the open room: its history (older pages loaded while
// scrolling up), live messages, members and who of them is online.
import { avatarImg } from "../avatar";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Event } from "../gen/foxhole/v1/realtime_pb";
import type { UserRef } from "../gen/foxhole/v1/user_pb";
import {
  RoomEventKind, RoomRole, RoomService, RoomVisibility,
  type Room, type RoomEvent, type RoomMember,
} from "../gen/foxhole/v1/room_pb";
import { realtime } from "../events";
import { me, transport } from "../session";
import { explain, retryAfter } from "../errors";
import { h, time, toast, uid } from "../dom";
import { applyChange, blocked, blocks, hideBlocked, messageBody, senderName, typingIndicator, typingSender } from "../lifecycle";

export const roomsClient = createClient(RoomService, transport);

// History is read this many events at a time.
const PAGE = 50;
// Older history is loaded when the log is scrolled this close to its top.
const NEAR_TOP_PX = 120;
// Read markers are sent at most this often per room.
const MARK_EVERY_MS = 1000;

export interface RoomsView {
  el: HTMLElement;
  // event applies a stream event: room messages, room events, presence.
  event(e: Event): void;
  // shown tells whether the Rooms tab is the one on screen.
  shown(visible: boolean): void;
}

// patient runs a call again when the server says to wait (rate limits), a
// few times, as long as it said for how long.
async function patient<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (e) {
      const err = ConnectError.from(e);
      if (err.code !== Code.ResourceExhausted || attempt >= 3) throw err;
      await new Promise((r) => setTimeout(r, 1000 * Math.min(retryAfter(err) ?? 1, 10)));
    }
  }
}

const nameOf = (u?: UserRef) => (u?.id && u.id === me?.id ? "You" : u?.screenName || u?.id || "Someone");
const roleName: Record<RoomRole, string> = {
  [RoomRole.UNSPECIFIED]: "not a member",
  [RoomRole.OWNER]: "owner",
  [RoomRole.ADMIN]: "admin",
  [RoomRole.MEMBER]: "member",
};
const manages = (r: Room) => r.role === RoomRole.OWNER || r.role === RoomRole.ADMIN;

// describe says in words what a room event changed.
function describe(re: RoomEvent): string {
  const user = nameOf(re.user), actor = nameOf(re.actor);
  switch (re.kind) {
    case RoomEventKind.JOINED:
      return re.actor && re.user && re.actor.id === re.user.id && re.room ? `${user} created the room` : `${user} joined`;
    case RoomEventKind.LEFT: return `${user} left`;
    case RoomEventKind.INVITED: return `${actor} invited ${user}`;
    case RoomEventKind.REMOVED: return `${actor} removed ${user}`;
    case RoomEventKind.BANNED: return `${actor} removed and banned ${user}`;
    case RoomEventKind.UNBANNED: return `${actor} lifted the ban of ${user}`;
    case RoomEventKind.ROLE_CHANGED: return `${actor} made ${user} ${roleName[re.role] ?? "a member"}`;
    case RoomEventKind.UPDATED: return `${actor} updated the room` + (re.room ? `: “${re.room.name}”` : "");
    case RoomEventKind.DELETED: return `${actor} deleted the room`;
    default: return "The room changed";
  }
}

// eventItem renders one stored event of a room's history. Edits and
// deletions are not items: the message they change shows them.
function eventItem(ev: Event, room: Room): HTMLLIElement | undefined {
  const at = ev.createdAt ? timestampDate(ev.createdAt) : new Date();
  const stamp = h("time", { datetime: at.toISOString() }, time(at));
  if (ev.payload.case === "chatMessage") {
    const m = ev.payload.value;
    const mine = m.sender?.id === me?.id;
    const item = h("li", { class: `message${mine ? " mine" : ""}`, "data-event-id": ev.id.toString() },
      h("span", { class: "meta" }, avatarImg(m.sender?.id), senderName(m.sender, mine), stamp));
    messageBody(item, ev, m, { canDelete: mine || manages(room) });
    item.hidden = blocked.has(m.sender?.id ?? "");
    return item;
  }
  if (ev.payload.case === "roomEvent") {
    return h("li", { class: "room-event", "data-event-id": ev.id.toString() }, h("span", {}, describe(ev.payload.value)), " ", stamp);
  }
  return undefined;
}

interface Entry {
  room: Room;
  // The newest event id of the room known here: events up to it are
  // counted already (by the listing or by the stream).
  last: bigint;
}

export function roomsView(): RoomsView {
  const entries = new Map<string, Entry>();
  // Users online, from the stream's presence events (and each open room's
  // ListPresence), for "online in this room".
  const online = new Map<string, string>();
  let ready = false;
  let visible = false;
  const early: Event[] = [];
  let pane: Pane | undefined;

  // The list of rooms and invitations.
  const list = h("ul", { class: "room-list", "aria-label": "Your rooms" });
  const noRooms = h("p", { class: "muted" }, "No rooms yet: create one, or find a public one.");
  const notice = h("p", { class: "notice", role: "status" });

  function order(): Entry[] {
    return [...entries.values()].sort((a, b) => (a.room.invited !== b.room.invited ? (a.room.invited ? -1 : 1) : a.last === b.last ? a.room.name.localeCompare(b.room.name) : a.last > b.last ? -1 : 1));
  }
  function renderList() {
    list.replaceChildren(...order().map(({ room }) => {
      if (room.invited) {
        const join = h("button", { type: "button", "aria-label": `Join ${room.name}` }, "Join");
        const decline = h("button", { type: "button", class: "secondary", "aria-label": `Decline ${room.name}` }, "Decline");
        join.addEventListener("click", () => void joinRoom(room.id, room.name));
        decline.addEventListener("click", async () => {
          try {
            await roomsClient.leaveRoom({ roomId: room.id });
            forget(room.id);
          } catch (err) {
            toast(explain(err, `decline the invitation to ${room.name}`));
          }
        });
        return h("li", { class: "room invited", "data-room-id": room.id },
          h("span", { class: "room-name" }, room.name), h("span", { class: "muted" }, " invited you"),
          h("div", { class: "row" }, join, decline));
      }
      const current = pane?.room.id === room.id;
      const n = room.unreadCount;
      const badge = h("span", { class: "unread", hidden: n === 0, "aria-label": `${n >= 1000 ? "1000 or more" : n} unread` }, n >= 1000 ? "1000+" : String(n));
      const b = h("button", { type: "button", class: "room-button", "aria-current": current ? "true" : undefined },
        h("span", { class: "room-name" }, room.name),
        room.visibility === RoomVisibility.PUBLIC ? h("span", { class: "badge" }, "public") : null,
        badge);
      b.addEventListener("click", () => open(room.id));
      return h("li", { class: "room", "data-room-id": room.id }, b);
    }));
    noRooms.hidden = entries.size > 0;
  }

  // Rooms found not to be the caller's: their replayed messages are let be.
  const gone = new Set<string>();
  function put(room: Room, last?: bigint) {
    gone.delete(room.id);
    const had = entries.get(room.id);
    const e: Entry = { room, last: last ?? room.lastEventId };
    if (had && had.last > e.last) e.last = had.last;
    entries.set(room.id, e);
    renderList();
  }
  function forget(id: string, message?: string) {
    const known = entries.has(id);
    entries.delete(id);
    gone.add(id);
    renderList();
    if (pane?.room.id === id) {
      pane.close();
      pane = undefined;
      paneBox.replaceChildren(h("p", { class: "notice", role: "status" }, message ?? "Pick a room, or create one."));
    }
    if (known && message) say(message);
  }
  function say(message: string) {
    notice.textContent = message;
    toast(message, "info");
  }

  // refresh reads a room the stream named that is not listed (or whose
  // standing changed): listed when the caller is a member or invited.
  const refreshing = new Map<string, Promise<void>>();
  function refresh(id: string): Promise<void> {
    let p = refreshing.get(id);
    if (p) return p;
    p = (async () => {
      try {
        const room = (await patient(() => roomsClient.getRoom({ roomId: id }))).room;
        if (room && (room.role !== RoomRole.UNSPECIFIED || room.invited)) put(room, entries.get(id)?.last);
        else if (room) forget(id);
      } catch (err) {
        if (ConnectError.from(err).code === Code.NotFound) forget(id);
      } finally {
        refreshing.delete(id);
      }
    })();
    refreshing.set(id, p);
    return p;
  }

  // Read markers: sent at once, then at most once a second per room.
  const marks = new Map<string, { want: bigint; sent: bigint; timer?: ReturnType<typeof setTimeout> }>();
  function markRead(id: string, upTo: bigint) {
    const e = entries.get(id);
    if (e) {
      if (upTo > e.room.readEventId) e.room.readEventId = upTo;
      if (e.room.unreadCount !== 0) { e.room.unreadCount = 0; renderList(); }
    }
    let m = marks.get(id);
    if (!m) { m = { want: 0n, sent: 0n }; marks.set(id, m); }
    if (upTo > m.want) m.want = upTo;
    if (m.timer || m.want <= m.sent) return;
    const mark = m;
    const send = async () => {
      const want = mark.want;
      mark.timer = setTimeout(() => { mark.timer = undefined; if (mark.want > mark.sent) void send(); }, MARK_EVERY_MS);
      try {
        await roomsClient.markRead({ roomId: id, eventId: want });
        if (want > mark.sent) mark.sent = want;
      } catch (err) {
        const code = ConnectError.from(err).code;
        if (code !== Code.NotFound && code !== Code.PermissionDenied && code !== Code.ResourceExhausted) toast(explain(err, "mark the room as read"));
      }
    };
    void send();
  }

  const viewing = (id: string) => visible && pane?.room.id === id && document.visibilityState === "visible";

  async function joinRoom(id: string, name: string) {
    try {
      const room = (await roomsClient.joinRoom({ roomId: id })).room;
      if (room) { put(room); open(room.id); }
      toast(`You joined ${name}.`, "info");
      void search();
    } catch (err) {
      toast(explain(err, `join ${name}`));
    }
  }

  // The open room.
  const paneBox = h("div", { class: "room-pane" }, h("p", { class: "muted" }, "Pick a room, or create one."));
  function open(id: string) {
    const e = entries.get(id);
    if (!e || e.room.invited) return;
    pane?.close();
    pane = openPane(e.room);
    paneBox.replaceChildren(pane.el);
    notice.textContent = "";
    renderList();
  }

  interface Pane {
    room: Room;
    el: HTMLElement;
    event(ev: Event): void;
    presence(reread: boolean): void;
    rendered(): void;
    close(): void;
  }

  function openPane(room: Room): Pane {
    const closed = new AbortController();
    const ids = new Set<bigint>();
    let oldest: bigint | undefined;
    let newest = 0n;
    let hasMore = false;
    let loading = false;
    let loaded = false;
    const pending: Event[] = [];
    const members = new Map<string, RoomMember>();

    const title = h("h3", { id: uid("room-h") }, room.name);
    const topic = h("p", { class: "muted topic" }, room.topic);
    const kind = h("span", { class: "badge" });
    const leave = h("button", { type: "button", class: "danger" }, "Leave room");
    const status = h("p", { class: "muted history-status", role: "status" });
    const log = h("ol", { class: "messages room-log", "aria-label": `Messages in ${room.name}`, "aria-live": "polite", tabindex: 0 });
    const textId = uid("room-msg");
    const text = h("textarea", { id: textId, name: "content", rows: 2, required: true, maxlength: 4096 });
    const error = h("p", { class: "field-error", role: "alert" });
    const form = h("form", { class: "compose" },
      h("label", { for: textId }, "Message"), text, error,
      h("button", { type: "submit" }, "Send"));
    const typist = typingSender(text, () => ({ roomId: room.id }));
    const typing = typingIndicator();
    const onBlocks = () => hideBlocked(log);
    blocks.addEventListener("change", onBlocks);
    const memberList = h("ul", { class: "members", "aria-label": "Members" });
    const onlineList = h("ul", { class: "people room-online", "aria-label": "Online in this room" });
    const inviteId = uid("invite");
    const invitee = h("input", { id: inviteId, name: "userId", autocomplete: "off", placeholder: "User id", required: true });
    const inviteError = h("p", { class: "field-error", role: "alert" });
    const inviteForm = h("form", { class: "invite" },
      h("label", { for: inviteId }, "Invite by user id"), invitee, inviteError,
      h("button", { type: "submit" }, "Invite"));

    function header() {
      title.textContent = room.name;
      topic.textContent = room.topic;
      topic.hidden = !room.topic;
      kind.textContent = room.visibility === RoomVisibility.PUBLIC ? "public" : "private";
      inviteForm.hidden = !manages(room);
      log.setAttribute("aria-label", `Messages in ${room.name}`);
    }
    header();

    const atBottom = () => log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    function append(ev: Event) {
      // Anything not newer than the newest shown is shown already, or
      // lies further back, where scrolling up finds it.
      if (ev.id === 0n || ev.id <= newest || ids.has(ev.id)) return;
      const item = eventItem(ev, room);
      if (!item) return;
      ids.add(ev.id);
      const stick = atBottom() || (ev.payload.case === "chatMessage" && ev.payload.value.sender?.id === me?.id);
      // Live events come in id order after the history already shown.
      log.append(item);
      if (ev.id > newest) newest = ev.id;
      if (oldest === undefined) oldest = ev.id;
      if (stick) log.scrollTop = log.scrollHeight;
    }

    async function older() {
      if (loading || !hasMore || closed.signal.aborted) return;
      loading = true;
      status.textContent = "Loading older messages…";
      try {
        const res = await patient(() => realtime.listMessages({ roomId: room.id, beforeEventId: oldest, pageSize: PAGE }, { signal: closed.signal }));
        const before = log.scrollHeight, top = log.scrollTop;
        const items = res.events.filter((ev) => !ids.has(ev.id)).map((ev) => {
          ids.add(ev.id);
          if (oldest === undefined || ev.id < oldest) oldest = ev.id;
          return eventItem(ev, room);
        }).filter((x): x is HTMLLIElement => x !== undefined);
        log.prepend(...items);
        // Keep what the reader was looking at where it was.
        log.scrollTop = top + (log.scrollHeight - before);
        hasMore = res.hasMore;
        status.textContent = hasMore ? "" : "The beginning of the room's history.";
      } catch (err) {
        if (!closed.signal.aborted) status.textContent = explain(err, "load older messages");
      } finally {
        loading = false;
      }
      fill();
    }
    // fill loads older pages while the log does not overflow, so that
    // scrolling up is possible whenever there is more.
    function fill() {
      if (!closed.signal.aborted && hasMore && !loading && log.scrollHeight <= log.clientHeight + NEAR_TOP_PX) void older();
    }
    log.addEventListener("scroll", () => { if (log.scrollTop < NEAR_TOP_PX) void older(); });

    async function latest() {
      status.textContent = "Loading messages…";
      try {
        const res = await patient(() => realtime.listMessages({ roomId: room.id, pageSize: PAGE }, { signal: closed.signal }));
        for (const ev of res.events) {
          const item = eventItem(ev, room);
          ids.add(ev.id);
          if (item) log.append(item);
          if (oldest === undefined || ev.id < oldest) oldest = ev.id;
          if (ev.id > newest) newest = ev.id;
        }
        hasMore = res.hasMore;
        status.textContent = hasMore ? "" : "The beginning of the room's history.";
        loaded = true;
        for (const ev of pending.splice(0)) append(ev);
        log.scrollTop = log.scrollHeight;
        read();
        fill();
      } catch (err) {
        if (!closed.signal.aborted) status.textContent = explain(err, "load the room's messages");
      }
    }

    function read() {
      const e = entries.get(room.id);
      const upTo = newest > (e?.last ?? 0n) ? newest : e?.last ?? 0n;
      if (loaded && viewing(room.id) && upTo > 0n) markRead(room.id, upTo);
    }

    function renderMembers() {
      const sorted = [...members.values()];
      memberList.replaceChildren(...sorted.map((m) => {
        const id = m.user?.id ?? "";
        const name = m.user?.screenName || id;
        const li = h("li", { "data-user-id": id },
          h("span", { class: online.has(id) ? "dot on" : "dot", "aria-hidden": "true" }),
          avatarImg(id),
          h("span", {}, id === me?.id ? `${name} (you)` : name), " ",
          h("span", { class: "muted" }, roleName[m.role] ?? ""));
        const mayRemove = id !== me?.id && (room.role === RoomRole.OWNER || (room.role === RoomRole.ADMIN && m.role === RoomRole.MEMBER));
        if (mayRemove) {
          const remove = h("button", { type: "button", class: "link", "aria-label": `Remove ${name}` }, "Remove");
          const ban = h("button", { type: "button", class: "link", "aria-label": `Ban ${name}` }, "Ban");
          const act = (b: boolean) => async () => {
            if (!confirm(`${b ? "Remove and ban" : "Remove"} ${name} from ${room.name}?`)) return;
            try {
              await roomsClient.removeMember({ roomId: room.id, userId: id, ban: b });
              members.delete(id);
              renderMembers();
            } catch (err) {
              toast(explain(err, `remove ${name}`));
            }
          };
          remove.addEventListener("click", act(false));
          ban.addEventListener("click", act(true));
          li.append(" ", remove, " ", ban);
        }
        return li;
      }));
      const here = sorted.filter((m) => m.user && online.has(m.user.id));
      onlineList.replaceChildren(...here.map((m) => h("li", { "data-user-id": m.user!.id }, m.user!.id === me?.id ? `${m.user!.screenName || m.user!.id} (you)` : m.user!.screenName || m.user!.id)));
      if (!here.length) onlineList.replaceChildren(h("li", { class: "muted" }, "Nobody"));
    }

    let membersTimer: ReturnType<typeof setTimeout> | undefined;
    async function loadMembers() {
      const got = new Map<string, RoomMember>();
      let pageToken = "";
      try {
        do {
          const res = await patient(() => roomsClient.listMembers({ roomId: room.id, pageToken, pageSize: 1000 }, { signal: closed.signal }));
          for (const m of res.members) if (m.user) got.set(m.user.id, m);
          pageToken = res.nextPageToken;
        } while (pageToken && got.size < 10_000);
      } catch (err) {
        if (!closed.signal.aborted) toast(explain(err, `list the members of ${room.name}`));
        return;
      }
      members.clear();
      for (const [id, m] of got) members.set(id, m);
      renderMembers();
    }
    // Membership changes come in bursts: the list is read again once.
    const membersLater = () => { clearTimeout(membersTimer); membersTimer = setTimeout(() => void loadMembers(), 300); };

    async function loadOnline() {
      let pageToken = "";
      try {
        do {
          const res = await patient(() => realtime.listPresence({ roomId: room.id, pageToken }, { signal: closed.signal }));
          for (const u of res.users) online.set(u.id, u.screenName);
          pageToken = res.nextPageToken;
        } while (pageToken);
      } catch (err) {
        if (!closed.signal.aborted) toast(explain(err, `list who is online in ${room.name}`));
        return;
      }
      renderMembers();
    }

    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      error.textContent = "";
      const content = text.value;
      if (!content.trim()) return;
      const button = form.querySelector("button")!;
      button.disabled = true;
      try {
        const res = await realtime.sendMessage({ content, roomId: room.id });
        text.value = "";
        typist.sent();
        if (res.event && loaded) { append(res.event); read(); }
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

    inviteForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      inviteError.textContent = "";
      invitee.removeAttribute("aria-invalid");
      const userId = invitee.value.trim();
      if (!userId) return;
      try {
        await roomsClient.inviteMember({ roomId: room.id, userId });
        invitee.value = "";
        toast(`Invited ${userId} to ${room.name}.`, "info");
      } catch (err) {
        const code = ConnectError.from(err).code;
        invitee.setAttribute("aria-invalid", "true");
        inviteError.textContent = code === Code.NotFound ? "Could not invite: no user has that id (or the room is gone)."
          : code === Code.AlreadyExists ? "Could not invite: that user is a member already."
          : code === Code.FailedPrecondition ? "Could not invite: that user is banned from this room; lift the ban first."
          : explain(err, "invite");
      }
    });

    leave.addEventListener("click", async () => {
      if (!confirm(`Leave ${room.name}?` + (room.visibility === RoomVisibility.PRIVATE ? " You will need a new invitation to come back." : ""))) return;
      try {
        await roomsClient.leaveRoom({ roomId: room.id });
        // The stream may have said so already.
        forget(room.id);
        say(`You left ${room.name}.`);
      } catch (err) {
        toast(explain(err, `leave ${room.name}`));
      }
    });

    const el = h("section", { class: "room-view", "aria-labelledby": title.id, "data-room-id": room.id },
      h("div", { class: "room-head" }, h("div", {}, h("div", { class: "row" }, title, kind), topic), leave),
      h("div", { class: "chat-grid" },
        h("div", { class: "chat-main" }, status, log, typing.el, form),
        h("aside", {},
          h("h4", {}, "Online in this room"), onlineList,
          h("h4", {}, "Members"), memberList,
          inviteForm)));

    void latest();
    void loadMembers().then(loadOnline);

    return {
      room,
      el,
      event(ev) {
        if (ev.payload.case === "typing") { typing.typing(ev.payload.value); return; }
        if (ev.payload.case === "messageEdited" || ev.payload.case === "messageDeleted") {
          // Before the first page is shown, the page holds the change.
          if (loaded) applyChange(log, ev);
          return;
        }
        if (ev.payload.case === "chatMessage") typing.messaged(ev.payload.value.sender);
        if (ev.payload.case === "roomEvent") {
          const re = ev.payload.value;
          if (re.kind === RoomEventKind.UPDATED && re.room) {
            room.name = re.room.name;
            room.topic = re.room.topic;
            room.visibility = re.room.visibility;
            header();
          }
          if (re.kind === RoomEventKind.ROLE_CHANGED && re.user?.id === me?.id) { room.role = re.role; header(); }
          if (re.kind !== RoomEventKind.UPDATED) membersLater();
        }
        if (!loaded) { pending.push(ev); return; }
        append(ev);
        read();
      },
      presence(reread) {
        if (reread) void loadOnline();
        else renderMembers();
      },
      rendered: read,
      close() {
        closed.abort();
        typing.clear();
        blocks.removeEventListener("change", onBlocks);
        clearTimeout(membersTimer);
      },
    };
  }

  // Creating a room.
  const nameId = uid("room-name"), topicId = uid("room-topic");
  const newName = h("input", { id: nameId, name: "name", required: true, maxlength: 100, autocomplete: "off" });
  const newTopic = h("input", { id: topicId, name: "topic", maxlength: 1000, autocomplete: "off" });
  const visName = uid("vis");
  const priv = h("input", { type: "radio", name: visName, id: `${visName}-private`, value: "private", checked: true });
  const pub = h("input", { type: "radio", name: visName, id: `${visName}-public`, value: "public" });
  const createError = h("p", { class: "field-error", role: "alert" });
  const createForm = h("form", { class: "create-room" },
    h("label", { for: nameId }, "Room name"), newName,
    h("label", { for: topicId }, "Topic (optional)"), newTopic,
    h("fieldset", {}, h("legend", {}, "Who can join"),
      h("div", { class: "check" }, priv, h("label", { for: priv.id }, "Private: by invitation")),
      h("div", { class: "check" }, pub, h("label", { for: pub.id }, "Public: anyone can find and join"))),
    createError,
    h("button", { type: "submit" }, "Create room"));
  createForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    createError.textContent = "";
    newName.removeAttribute("aria-invalid");
    const button = createForm.querySelector<HTMLButtonElement>("button[type=submit]")!;
    button.disabled = true;
    try {
      const room = (await roomsClient.createRoom({
        name: newName.value, topic: newTopic.value,
        visibility: pub.checked ? RoomVisibility.PUBLIC : RoomVisibility.PRIVATE,
      })).room;
      if (room) { put(room); open(room.id); }
      newName.value = newTopic.value = "";
      priv.checked = true;
      createBox.open = false;
    } catch (err) {
      if (ConnectError.from(err).code === Code.InvalidArgument) newName.setAttribute("aria-invalid", "true");
      createError.textContent = explain(err, "create the room");
    } finally {
      button.disabled = false;
    }
  });
  const createBox = h("details", { class: "create-box" }, h("summary", {}, "New room"), createForm);

  // The directory of public rooms.
  const queryId = uid("room-q");
  const query = h("input", { id: queryId, type: "search", name: "query", maxlength: 100, autocomplete: "off" });
  const found = h("ul", { class: "directory", "aria-label": "Public rooms" });
  const foundMore = h("button", { type: "button", class: "secondary", hidden: true }, "More rooms");
  const foundStatus = h("p", { class: "muted", role: "status" });
  let foundToken = "";
  let searchSeq = 0;
  async function search(more = false) {
    const seq = ++searchSeq;
    try {
      const res = await patient(() => roomsClient.listRooms({ joined: false, query: query.value.trim(), pageSize: 20, pageToken: more ? foundToken : "" }));
      if (seq !== searchSeq) return;
      foundToken = res.nextPageToken;
      foundMore.hidden = !foundToken;
      const items = res.rooms.map((r) => {
        const joined = r.role !== RoomRole.UNSPECIFIED;
        const action = joined ? h("span", { class: "muted" }, "joined")
          : h("button", { type: "button", class: "secondary", "aria-label": `Join ${r.name}` }, "Join");
        if (!joined) action.addEventListener("click", () => void joinRoom(r.id, r.name));
        return h("li", { "data-room-id": r.id },
          h("span", { class: "room-name" }, r.name), " ",
          h("span", { class: "muted" }, `${r.memberCount} member${r.memberCount === 1 ? "" : "s"}`),
          r.topic ? h("span", { class: "muted topic" }, r.topic) : null, action);
      });
      if (more) found.append(...items);
      else found.replaceChildren(...items);
      foundStatus.textContent = found.children.length ? "" : "No public rooms match.";
    } catch (err) {
      if (seq === searchSeq) foundStatus.textContent = explain(err, "search the public rooms");
    }
  }
  let searchTimer: ReturnType<typeof setTimeout> | undefined;
  query.addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(() => void search(), 250); });
  const searchForm = h("form", { class: "room-search", role: "search" },
    h("label", { for: queryId }, "Search public rooms by name"), query,
    h("button", { type: "submit", class: "secondary" }, "Search"));
  searchForm.addEventListener("submit", (e) => { e.preventDefault(); clearTimeout(searchTimer); void search(); });
  foundMore.addEventListener("click", () => void search(true));
  const findBox = h("details", { class: "find-box" }, h("summary", {}, "Find public rooms"), searchForm, foundStatus, found, foundMore);
  findBox.addEventListener("toggle", () => { if (findBox.open) void search(); });

  const el = h("section", { class: "card rooms", "aria-labelledby": "rooms-h" },
    h("div", { class: "rooms-grid" },
      h("div", { class: "rooms-side" },
        h("h2", { id: "rooms-h" }, "Rooms"), notice, noRooms, list, createBox, findBox),
      paneBox));
  renderList();
  document.addEventListener("visibilitychange", () => { if (visible && el.isConnected) pane?.rendered(); });

  // The caller's rooms, then whatever the stream said meanwhile.
  (async () => {
    let pageToken = "";
    try {
      do {
        const res = await patient(() => roomsClient.listRooms({ joined: true, pageSize: 200, pageToken }));
        for (const r of res.rooms) put(r);
        pageToken = res.nextPageToken;
      } while (pageToken);
    } catch (err) {
      toast(explain(err, "list your rooms"));
    }
    ready = true;
    // The replay tells a room's story about the caller in full: only its
    // last chapter (joined, invited, left, removed) matters.
    const superseded = new Set<bigint>();
    const lastAboutMe = new Map<string, bigint>();
    for (const ev of early) {
      if (ev.payload.case !== "roomEvent" || ev.payload.value.user?.id !== me?.id || ev.id === 0n) continue;
      const was = lastAboutMe.get(ev.payload.value.roomId);
      if (was !== undefined) superseded.add(was);
      lastAboutMe.set(ev.payload.value.roomId, ev.id);
    }
    for (const ev of early.splice(0)) if (!superseded.has(ev.id)) apply(ev);
  })();

  function apply(ev: Event) {
    if (ev.payload.case === "messageEdited" || ev.payload.case === "messageDeleted" || ev.payload.case === "typing") {
      if (pane?.room.id === ev.payload.value.roomId) pane.event(ev);
      return;
    }
    if (ev.payload.case === "chatMessage") {
      const m = ev.payload.value;
      const e = entries.get(m.roomId);
      if (!e) { if (!gone.has(m.roomId)) void refresh(m.roomId); return; }
      if (ev.id > e.last) {
        e.last = ev.id;
        if (e.room.lastEventId < ev.id) e.room.lastEventId = ev.id;
        if (m.sender?.id !== me?.id && ev.id > e.room.readEventId && !viewing(e.room.id)) e.room.unreadCount = Math.min(e.room.unreadCount + 1, 1000);
        renderList();
      }
      if (pane?.room.id === m.roomId) pane.event(ev);
      return;
    }
    if (ev.payload.case !== "roomEvent") return;
    const re = ev.payload.value;
    const id = re.roomId;
    const e = entries.get(id);
    const aboutMe = re.user?.id === me?.id;
    const name = e?.room.name ?? re.room?.name ?? "a room";
    if (e && ev.id > e.last) { e.last = ev.id; renderList(); }
    switch (re.kind) {
      case RoomEventKind.DELETED:
        forget(id, `${name} was deleted by ${nameOf(re.actor)}.`);
        return;
      case RoomEventKind.REMOVED:
      case RoomEventKind.BANNED:
        if (aboutMe) {
          // A replayed removal of a room no longer listed says nothing.
          forget(id, `${nameOf(re.actor)} removed you from ${name}` + (re.kind === RoomEventKind.BANNED ? " and banned you." : "."));
          return;
        }
        break;
      case RoomEventKind.LEFT:
        if (aboutMe) { forget(id); return; }
        break;
      case RoomEventKind.INVITED:
      case RoomEventKind.JOINED:
        if (aboutMe && (!e || e.room.invited)) {
          gone.delete(id);
          void refresh(id);
          return;
        }
        break;
      case RoomEventKind.UPDATED:
        if (e && re.room) {
          e.room.name = re.room.name;
          e.room.topic = re.room.topic;
          e.room.visibility = re.room.visibility;
          renderList();
        }
        break;
      case RoomEventKind.ROLE_CHANGED:
        if (e && aboutMe) e.room.role = re.role;
        break;
    }
    if (e && pane?.room.id === id) pane.event(ev);
  }

  return {
    el,
    event(ev) {
      if (ev.payload.case === "presence") {
        const p = ev.payload.value;
        if (p.snapshot) online.clear();
        for (const u of p.left) online.delete(u.id);
        for (const u of p.joined) online.set(u.id, u.screenName);
        // A truncated snapshot names only some: the open room's are listed.
        pane?.presence(p.snapshot && p.truncated);
        return;
      }
      const c = ev.payload.case;
      if (c !== "roomEvent" && !((c === "chatMessage" || c === "messageEdited" || c === "messageDeleted" || c === "typing") && ev.payload.value.roomId)) return;
      // Typing is live only: not worth keeping until the list is ready.
      if (!ready && c === "typing") return;
      if (!ready) { early.push(ev); return; }
      apply(ev);
    },
    shown(v) {
      visible = v;
      if (v) pane?.rendered();
    },
  };
}
