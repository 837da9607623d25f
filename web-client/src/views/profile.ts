import { Code, ConnectError } from "@connectrpc/connect";
import { holdsSecret, me, profileClient, replaceSecret, setMe } from "../session";
import { explain } from "../errors";
import { copy, h, toast, uid } from "../dom";
import { secretShown } from "./signin";
import { blockedSection } from "../lifecycle";

export function profileView(): HTMLElement {
  const nameId = uid("name");
  const error = h("p", { class: "field-error", id: uid("err"), role: "alert" });
  const saved = h("p", { class: "ok", role: "status" });
  const input = h("input", { id: nameId, name: "screenName", autocomplete: "nickname", value: me?.screenName ?? "", "aria-describedby": error.id });
  const form = h("form", { class: "card", "aria-labelledby": "profile-h" },
    h("h2", { id: "profile-h" }, "Profile"),
    h("label", { for: nameId }, "Screen name"),
    input, error,
    h("button", { type: "submit" }, "Save"), saved);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = saved.textContent = "";
    input.removeAttribute("aria-invalid");
    try {
      const res = await profileClient.updateProfile({ user: { screenName: input.value }, updateMask: { paths: ["screen_name"] } });
      setMe(res.user);
      saved.textContent = "Saved.";
    } catch (err) {
      if (ConnectError.from(err).code === Code.InvalidArgument) input.setAttribute("aria-invalid", "true");
      error.textContent = explain(err, "save the screen name");
      input.focus();
    }
  });

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
  return h("section", { class: "stack", "aria-label": "Profile" }, form, ident, rotateCard, blockedSection());
}
