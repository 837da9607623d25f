import "./style.css";
import { $, h, toast } from "./dom";
import { explain } from "./errors";
import { me, events, remembered, signIn, signOut, signedIn } from "./session";
import { subscribe, type Status } from "./events";
import { signInView } from "./views/signin";
import { profileView } from "./views/profile";
import { filesView } from "./views/files";
import { chatView } from "./views/chat";
import { roomsView } from "./views/rooms";
import { showDocs } from "./views/docs";
import { settingsView } from "./views/settings";

const appView = $("#app-view");
const docsView = $("#docs-view");
const conn = $("#conn");
const who = $("#who");
const signOutButton = $<HTMLButtonElement>("#sign-out");

let stream: { stop(): void } | undefined;

const statusText: Record<Status, string> = {
  connecting: "Connecting…",
  online: "Online",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};

function setStatus(s: Status, detail?: string) {
  conn.dataset.status = s;
  conn.textContent = statusText[s];
  conn.title = detail ?? "";
}

function showSignIn() {
  stream?.stop();
  stream = undefined;
  conn.textContent = who.textContent = "";
  delete conn.dataset.status;
  signOutButton.hidden = true;
  appView.replaceChildren(signInView(showApp));
}

function showApp() {
  stream?.stop();
  who.textContent = me?.screenName ?? "";
  signOutButton.hidden = false;
  const tabs = [
    { id: "chat", label: "Chat" },
    { id: "rooms", label: "Rooms" },
    { id: "files", label: "Files" },
    { id: "profile", label: "Profile" },
    { id: "settings", label: "Settings" },
  ];
  const chat = chatView();
  const rooms = roomsView();
  const files = filesView();
  const panels: Record<string, HTMLElement> = { chat: chat.el, rooms: rooms.el, files: files.el, profile: profileView(), settings: settingsView() };
  const list = h("div", { role: "tablist", "aria-label": "Sections", class: "tabs" });
  const buttons = tabs.map((t, i) => {
    const b = h("button", { type: "button", role: "tab", id: `tab-${t.id}`, "aria-controls": `panel-${t.id}`, "aria-selected": i === 0 ? "true" : "false", tabindex: i === 0 ? 0 : -1 }, t.label);
    b.addEventListener("click", () => select(i));
    b.addEventListener("keydown", (e) => {
      const k = (e as KeyboardEvent).key;
      if (k === "ArrowRight" || k === "ArrowLeft") {
        const j = (i + (k === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length;
        select(j);
        buttons[j].focus();
      }
    });
    return b;
  });
  list.append(...buttons);
  const wrappers = tabs.map((t, i) => h("div", { role: "tabpanel", id: `panel-${t.id}`, "aria-labelledby": `tab-${t.id}`, hidden: i !== 0 }, panels[t.id]));
  function select(i: number) {
    buttons.forEach((b, j) => { b.setAttribute("aria-selected", String(i === j)); b.tabIndex = i === j ? 0 : -1; });
    wrappers.forEach((w, j) => (w.hidden = i !== j));
    rooms.shown(tabs[i].id === "rooms");
  }
  appView.replaceChildren(list, ...wrappers);

  stream = subscribe({
    status: setStatus,
    event(ev) {
      switch (ev.payload.case) {
        // Room messages belong to the rooms; the chat has the lobby and DMs.
        case "chatMessage":
          if (ev.payload.value.roomId) rooms.event(ev);
          else chat.message(ev, ev.payload.value);
          break;
        case "roomEvent": rooms.event(ev); break;
        case "messageEdited":
        case "messageDeleted":
        case "typing":
          if (ev.payload.value.roomId) rooms.event(ev);
          else if (ev.payload.case === "typing") chat.typing(ev);
          else chat.change(ev);
          break;
        case "presence": chat.presence(ev); rooms.event(ev); break;
        case "fileEvent": files.changed(); break;
      }
    },
    ended: () => {},
  });
}

events.addEventListener("signed-out", (e) => {
  const reason = (e as CustomEvent<string | undefined>).detail;
  if (reason) toast(reason);
  showSignIn();
});
events.addEventListener("user", () => (who.textContent = me?.screenName ?? ""));
signOutButton.addEventListener("click", () => signOut());

// Two pages, one app: / and /docs switch without a reload, so the token in
// memory serves the reference's "try it" forms too.
async function route() {
  const docs = location.pathname === "/docs";
  appView.hidden = docs;
  docsView.hidden = !docs;
  document.title = docs ? "Foxhole API reference" : "Foxhole";
  if (docs) {
    try {
      await showDocs(docsView);
      if (location.hash) document.getElementById(location.hash.slice(1))?.scrollIntoView();
    } catch (err) {
      toast(explain(err, "show the API reference"));
    }
  }
}
document.addEventListener("click", (e) => {
  const a = (e.target as Element).closest?.("a[data-route]") as HTMLAnchorElement | null;
  if (!a || e.defaultPrevented || (e as MouseEvent).ctrlKey || (e as MouseEvent).metaKey || (e as MouseEvent).shiftKey) return;
  e.preventDefault();
  if (a.pathname !== location.pathname) history.pushState(null, "", a.pathname);
  void route();
  $("#main").focus();
});
window.addEventListener("popstate", () => void route());
window.addEventListener("unhandledrejection", (e) => toast(explain(e.reason)));

async function start() {
  const saved = remembered();
  if (saved) {
    appView.replaceChildren(h("p", { class: "muted" }, "Signing in…"));
    try {
      await signIn(saved, true);
    } catch (err) {
      toast(explain(err, "sign in with the remembered secret"));
    }
  }
  if (signedIn()) showApp();
  else showSignIn();
  await route();
}
void start();
