import { Code, ConnectError } from "@connectrpc/connect";
import { holdsSecret, me, profileClient, replaceSecret, setMe, validToken } from "../session";
import { knowAvatar } from "../avatar";
import { explain } from "../errors";
import { copy, h, toast, uid } from "../dom";
import { secretShown } from "./signin";
import { blockedSection } from "../lifecycle";

export function profileView(): HTMLElement {
  const nameId = uid("name");
  const error = h("p", { class: "field-error", id: uid("err"), role: "alert" });
  const saved = h("p", { class: "ok", role: "status" });
  const input = h("input", { id: nameId, name: "screenName", autocomplete: "nickname", value: me?.screenName ?? "", "aria-describedby": error.id });
  const bioId = uid("bio");
  const bio = h("textarea", { id: bioId, name: "bio", rows: 3, maxlength: 500, "aria-describedby": error.id });
  bio.value = me?.bio ?? "";
  const form = h("form", { class: "card", "aria-labelledby": "profile-h" },
    h("h2", { id: "profile-h" }, "Profile"),
    h("label", { for: nameId }, "Screen name"),
    input,
    h("label", { for: bioId }, "Bio"),
    bio, error,
    h("button", { type: "submit" }, "Save"), saved);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = saved.textContent = "";
    input.removeAttribute("aria-invalid");
    try {
      const res = await profileClient.updateProfile({ user: { screenName: input.value, bio: bio.value }, updateMask: { paths: ["screen_name", "bio"] } });
      setMe(res.user);
      saved.textContent = "Saved.";
    } catch (err) {
      if (ConnectError.from(err).code === Code.InvalidArgument) input.setAttribute("aria-invalid", "true");
      error.textContent = explain(err, "save the profile");
      input.focus();
    }
  });

  // The avatar: chosen, previewed here, sent as it is (the server checks
  // and re-encodes it; no cropping: thumbnails take the centre).
  const fileId = uid("avatar");
  const picker = h("input", { id: fileId, type: "file", accept: "image/png,image/jpeg,image/gif,image/webp" });
  const preview = h("img", { class: "avatar-preview", alt: "Your avatar", width: 128, height: 128 });
  const showCurrent = () => {
    preview.hidden = !me?.avatarUrl;
    if (me?.avatarUrl) preview.src = `${me.avatarUrl}&size=128`;
  };
  showCurrent();
  const upload = h("button", { type: "button", disabled: true }, "Use this picture");
  const remove = h("button", { type: "button", class: "secondary" }, "Remove avatar");
  const avatarStatus = h("p", { role: "status" });
  let chosen: File | undefined;
  picker.addEventListener("change", () => {
    chosen = picker.files?.[0];
    upload.disabled = !chosen;
    if (!chosen) return;
    // A data: URL: the page's policy allows no blob: images.
    const reader = new FileReader();
    reader.onload = () => { preview.src = String(reader.result); preview.hidden = false; };
    reader.readAsDataURL(chosen);
  });
  const send = async (method: "PUT" | "DELETE") => {
    avatarStatus.textContent = "";
    try {
      const res = await fetch("/avatar", { method, body: method === "PUT" ? chosen : undefined, headers: { Authorization: `Bearer ${await validToken()}` } });
      if (!res.ok) throw new Error((await res.json().catch(() => null))?.error?.message ?? `the server answered ${res.status}`);
      if (method === "PUT") {
        const u = await res.json();
        setMe({ ...me!, avatarUrl: u.avatarUrl ?? "" });
      } else {
        setMe({ ...me!, avatarUrl: "" });
      }
      knowAvatar(me!.id, me!.avatarUrl);
      chosen = undefined;
      picker.value = "";
      upload.disabled = true;
      showCurrent();
      avatarStatus.textContent = method === "PUT" ? "Avatar saved." : "Avatar removed.";
    } catch (err) {
      toast(`Could not ${method === "PUT" ? "save" : "remove"} the avatar: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  upload.addEventListener("click", () => send("PUT"));
  remove.addEventListener("click", () => send("DELETE"));
  const avatarCard = h("div", { class: "card" },
    h("h2", {}, "Avatar"),
    h("label", { for: fileId }, "Picture (PNG, JPEG, GIF or WebP, up to 5 MiB)"),
    picker, preview, h("p", {}, upload, " ", remove), avatarStatus);

  const copyId = h("button", { type: "button", class: "secondary" }, "Copy id");
  copyId.addEventListener("click", () => copy(me?.id ?? "", copyId));
  const ident = h("div", { class: "card" },
    h("h2", {}, "Your public id"),
    h("p", {}, "Others use it to send you personal messages. It is safe to share; your secret is not."),
    h("p", {}, h("code", { class: "user-id" }, me?.id ?? ""), " ", copyId));

  const rotate = h("button", { type: "button", class: "danger" }, "Replace my secret");
  const rotateCard = h("div", { class: "card" },
    h("h2", {}, "Replace your secret"),
    h("p", {}, "Makes a new secret and stops the old one at once, everywhere: other devices signed in with it are signed out."),
    rotate);
  rotate.addEventListener("click", async () => {
    if (!confirm("Replace your secret? The old one stops working at once, on every device.")) return;
    // The server wants the current secret as proof; the app holds it once
    // signed in, and asks for it otherwise.
    let current: string | undefined;
    if (!holdsSecret()) {
      current = prompt("Your current secret, to prove it is you:")?.trim();
      if (!current) return;
    }
    try {
      const s = await replaceSecret(current);
      rotateCard.replaceChildren(secretShown(s, () => rotateCard.replaceChildren(h("p", { class: "ok" }, "Your new secret is in use.")), "Your new secret"));
    } catch (err) {
      toast(explain(err, "replace the secret"));
    }
  });
  return h("section", { class: "stack", "aria-label": "Profile" }, form, avatarCard, ident, rotateCard, blockedSection());
}
