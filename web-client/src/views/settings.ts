// Settings: take your data (a zip of everything held on you) and leave
// (delete the account, confirmed by the secret).
import { authClient, signOut, validToken, me } from "../session";
import { explain } from "../errors";
import { h, toast, uid } from "../dom";

export function settingsView(): HTMLElement {
  const exportButton = h("button", { type: "button" }, "Download my data");
  const exportStatus = h("p", { role: "status" });
  exportButton.addEventListener("click", async () => {
    exportButton.disabled = true;
    exportStatus.textContent = "Preparing your export…";
    try {
      const res = await fetch("/account/export", { headers: { Authorization: `Bearer ${await validToken()}` } });
      if (!res.ok) throw new Error((await res.json().catch(() => null))?.error?.message ?? `the server answered ${res.status}`);
      const blob = await res.blob();
      const a = h("a", { href: URL.createObjectURL(blob), download: `foxhole-export-${me?.id ?? "me"}.zip` });
      document.body.append(a);
      a.click();
      a.remove();
      exportStatus.textContent = "Your export is downloaded.";
    } catch (err) {
      exportStatus.textContent = "";
      toast(`Could not export your data: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      exportButton.disabled = false;
    }
  });
  const exportCard = h("div", { class: "card" },
    h("h2", {}, "Your data"),
    h("p", {}, "A zip of everything this server holds on you: your profile, your files, the messages you sent or received directly, and your rooms."),
    exportButton, exportStatus);

  const secretId = uid("delete-secret");
  const error = h("p", { class: "field-error", id: uid("err"), role: "alert" });
  const secretInput = h("input", { id: secretId, type: "password", autocomplete: "off", "aria-describedby": error.id });
  const deleteButton = h("button", { type: "submit", class: "danger" }, "Delete my account");
  const form = h("form", { class: "card", "aria-labelledby": "delete-h" },
    h("h2", { id: "delete-h" }, "Delete your account"),
    h("p", {}, "This deletes your account for good, at once, on every device: your profile, avatar and files go, you leave every room (one you own passes to its longest-standing admin or member), and your messages are erased, shown to others as deleted. It cannot be undone."),
    h("label", { for: secretId }, "Type your secret to confirm"),
    secretInput, error, deleteButton);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = "";
    const typed = secretInput.value.trim();
    if (!typed) {
      error.textContent = "Type your secret: it proves the account is yours.";
      secretInput.focus();
      return;
    }
    if (!confirm("Delete your account for good? This cannot be undone.")) return;
    deleteButton.disabled = true;
    try {
      await authClient.deleteAccount({ userSecret: typed });
      signOut("Your account is deleted.");
    } catch (err) {
      error.textContent = explain(err, "delete the account");
      secretInput.focus();
    } finally {
      deleteButton.disabled = false;
    }
  });
  return h("section", { class: "stack", "aria-label": "Settings" }, exportCard, form);
}
