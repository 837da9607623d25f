import { createClient } from "@connectrpc/connect";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { FileService, type File as StoredFile } from "../gen/foxhole/v1/file_pb";
import { transport } from "../session";
import { explain } from "../errors";
import { bytes, h, toast, uid } from "../dom";
import { upload } from "../upload";

const files = createClient(FileService, transport);
const PAGE = 20;

export interface FilesView {
  el: HTMLElement;
  // changed is told of file events: the first page is refreshed.
  changed(): void;
}

export function filesView(): FilesView {
  const inputId = uid("file");
  const picker = h("input", { id: inputId, type: "file", multiple: true });
  const uploads = h("ul", { class: "uploads", "aria-label": "Uploads in progress" });
  const body = h("tbody");
  const empty = h("p", { class: "muted" }, "No files yet.");
  const older = h("button", { type: "button", class: "secondary" }, "Older files");
  const newer = h("button", { type: "button", class: "secondary" }, "Newer files");
  const pageInfo = h("span", { class: "muted", role: "status" });
  const table = h("table", { class: "files" },
    h("caption", { class: "sr-only" }, "Your files, newest first"),
    h("thead", {}, h("tr", {}, ...["Name", "Size", "Type", "Added", "Actions"].map((t) => h("th", { scope: "col" }, t)))),
    body);

  // Tokens of the pages before the current one, for "Newer files".
  const tokens: string[] = [];
  let current = "";
  let next = "";

  async function load(token = current) {
    try {
      const [res, links] = await Promise.all([files.listFiles({ pageSize: PAGE, pageToken: token }), files.listShares({})]);
      const shared = new Set(links.shares.map((s) => s.fileId));
      current = token;
      next = res.nextPageToken;
      body.replaceChildren(...res.files.map((f) => row(f, shared.has(f.id))));
      table.hidden = res.files.length === 0;
      empty.hidden = res.files.length > 0 || tokens.length > 0;
      older.disabled = !next;
      newer.disabled = tokens.length === 0;
      pageInfo.textContent = tokens.length || next ? `Page ${tokens.length + 1}` : "";
    } catch (err) {
      toast(explain(err, "list your files"));
    }
  }
  older.addEventListener("click", () => { tokens.push(current); void load(next); });
  newer.addEventListener("click", () => void load(tokens.pop() ?? ""));

  function row(f: StoredFile, shared: boolean): HTMLTableRowElement {
    const download = h("button", { type: "button", class: "secondary", "aria-label": `Download ${f.name}` }, "Download");
    const share = h("button", { type: "button", class: "secondary", "aria-label": `${shared ? "Unshare" : "Share"} ${f.name}` }, shared ? "Unshare" : "Share");
    const del = h("button", { type: "button", class: "danger", "aria-label": `Delete ${f.name}` }, "Delete");
    share.addEventListener("click", async () => {
      try {
        if (shared) {
          if (!confirm(`Stop sharing ${f.name}? Its link stops working at once.`)) return;
          const existing = await files.listShares({ fileId: f.id });
          for (const s of existing.shares) await files.revokeShare({ id: s.id });
          toast(`${f.name} is no longer shared.`, "info");
        } else {
          const url = (await files.shareFile({ id: f.id })).share!.url;
          try {
            await navigator.clipboard.writeText(url);
            toast(`Link to ${f.name} copied: ${url}`, "info");
          } catch {
            toast(`Link to ${f.name}: ${url}`, "info");
          }
        }
        await load();
      } catch (err) {
        toast(explain(err, `share ${f.name}`));
      }
    });
    download.addEventListener("click", async () => {
      try {
        const res = await files.getFile({ id: f.id });
        // The link needs no token; the browser saves the bytes itself.
        const a = h("a", { href: res.downloadUrl, download: f.name, hidden: true });
        document.body.append(a);
        a.click();
        a.remove();
      } catch (err) {
        toast(explain(err, `download ${f.name}`));
      }
    });
    del.addEventListener("click", async () => {
      if (!confirm(`Delete ${f.name}? This cannot be undone.`)) return;
      try {
        await files.deleteFile({ id: f.id });
        toast(`Deleted ${f.name}.`, "info");
        await load();
      } catch (err) {
        toast(explain(err, `delete ${f.name}`));
      }
    });
    const added = f.createdAt ? timestampDate(f.createdAt) : undefined;
    return h("tr", { "data-id": f.id },
      h("td", { class: "name" }, f.name),
      h("td", {}, bytes(Number(f.size))),
      h("td", {}, f.contentType),
      h("td", {}, added ? h("time", { datetime: added.toISOString() }, added.toLocaleString()) : ""),
      h("td", { class: "actions" }, download, share, del));
  }

  function start(file: File) {
    const bar = h("progress", { max: file.size || 1, value: 0, "aria-label": `Uploading ${file.name}` });
    const text = h("span", { class: "muted" }, `0 B of ${bytes(file.size)}`);
    const cancel = h("button", { type: "button", class: "secondary" }, "Cancel");
    const pause = h("button", { type: "button", class: "secondary", "aria-label": `Pause ${file.name}` }, "Pause");
    const item = h("li", { class: "upload" }, h("span", { class: "name" }, file.name), bar, text, pause, cancel);
    uploads.append(item);
    const began = performance.now();
    const u = upload(file, (sent, total) => {
      bar.max = total || 1;
      bar.value = sent;
      const secs = (performance.now() - began) / 1000;
      text.textContent = `${bytes(sent)} of ${bytes(total)}` + (secs > 0.2 ? ` · ${bytes(sent / secs)}/s` : "");
    });
    cancel.addEventListener("click", () => u.cancel());
    let paused = false;
    pause.addEventListener("click", () => {
      paused = !paused;
      if (paused) u.pause(); else u.resume();
      pause.textContent = paused ? "Resume" : "Pause";
      pause.setAttribute("aria-label", `${paused ? "Resume" : "Pause"} ${file.name}`);
    });
    u.done.then(
      (f) => { item.remove(); toast(`Uploaded ${f.name}.`, "info"); void load(""); },
      (err) => { item.remove(); toast(explain(err, `upload ${file.name}`)); },
    );
  }
  picker.addEventListener("change", () => {
    for (const f of picker.files ?? []) start(f);
    picker.value = "";
  });

  let pending: ReturnType<typeof setTimeout> | undefined;
  const el = h("section", { class: "card", "aria-labelledby": "files-h" },
    h("h2", { id: "files-h" }, "Files"),
    h("label", { for: inputId }, "Upload files"),
    picker,
    uploads,
    empty, table,
    h("div", { class: "row pager" }, newer, pageInfo, older));
  tokens.length = 0;
  void load("");
  return {
    el,
    changed() {
      // Many events at once (a replay) cost one listing.
      clearTimeout(pending);
      pending = setTimeout(() => { if (tokens.length === 0) void load(""); }, 250);
    },
  };
}
