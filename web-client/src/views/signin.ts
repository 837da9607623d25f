import { authClient, remembered, setRemember, signIn } from "../session";
import { explain } from "../errors";
import { copy, h, uid } from "../dom";

// signInView offers both ways in: a new account, or a secret.
export function signInView(done: () => void): HTMLElement {
  const nameId = uid("name"), secretId = uid("secret"), rememberId = uid("remember");
  const regError = h("p", { class: "field-error", id: uid("err"), role: "alert" });
  const inError = h("p", { class: "field-error", id: uid("err"), role: "alert" });

  const register = h("form", { class: "card", "aria-labelledby": "register-h" },
    h("h2", { id: "register-h" }, "New here? Create an account"),
    h("p", {}, "No username, no password: Foxhole gives you a secret key instead."),
    h("label", { for: nameId }, "Screen name (optional)"),
    h("input", { id: nameId, name: "screenName", autocomplete: "nickname", maxlength: 64, "aria-describedby": regError.id }),
    regError,
    h("button", { type: "submit" }, "Create account"));

  const signin = h("form", { class: "card", "aria-labelledby": "signin-h" },
    h("h2", { id: "signin-h" }, "Have a secret? Sign in"),
    // For password managers, which file a secret under a username.
    h("input", { type: "text", name: "username", autocomplete: "username", value: "Foxhole secret", hidden: true, "aria-hidden": "true", tabindex: -1 }),
    h("label", { for: secretId }, "Your secret"),
    h("input", { id: secretId, name: "secret", type: "password", autocomplete: "current-password", required: true, spellcheck: "false", "aria-describedby": inError.id }),
    inError,
    h("div", { class: "check" },
      h("input", { id: rememberId, type: "checkbox", name: "remember" }),
      h("label", { for: rememberId }, "Remember me on this device (stores the secret in this browser)")),
    h("button", { type: "submit" }, "Sign in"));

  const view = h("section", { class: "signin", "aria-label": "Sign in" }, register, signin);

  register.addEventListener("submit", async (e) => {
    e.preventDefault();
    regError.textContent = "";
    const button = register.querySelector("button")!;
    button.disabled = true;
    try {
      const screenName = (register.elements.namedItem("screenName") as HTMLInputElement).value.trim();
      const res = await authClient.register({ screenName });
      await signIn(res.userSecret, false);
      view.replaceChildren(secretShown(res.userSecret, done));
      view.querySelector<HTMLElement>("h2")?.focus();
    } catch (err) {
      regError.textContent = explain(err, "create the account");
    } finally {
      button.disabled = false;
    }
  });

  signin.addEventListener("submit", async (e) => {
    e.preventDefault();
    inError.textContent = "";
    const button = signin.querySelector("button")!;
    button.disabled = true;
    try {
      const s = (signin.elements.namedItem("secret") as HTMLInputElement).value;
      const remember = (signin.elements.namedItem("remember") as HTMLInputElement).checked;
      await signIn(s, remember);
      done();
    } catch (err) {
      inError.textContent = explain(err, "sign in");
    } finally {
      button.disabled = false;
    }
  });
  return view;
}

// secretShown shows a new secret once, with a copy button and the warning.
export function secretShown(secret: string, done: () => void, heading = "Your account is ready: keep your secret"): HTMLElement {
  const rememberId = uid("remember");
  const copyButton = h("button", { type: "button", class: "secondary" }, "Copy secret");
  copyButton.addEventListener("click", () => copy(secret, copyButton));
  const remember = h("input", { id: rememberId, type: "checkbox", checked: remembered() !== null });
  remember.addEventListener("change", () => setRemember(remember.checked));
  const next = h("button", { type: "button" }, "I have saved it: continue");
  next.addEventListener("click", done);
  return h("div", { class: "card secret", "aria-labelledby": "secret-h" },
    h("h2", { id: "secret-h", tabindex: -1 }, heading),
    h("p", { class: "warning" },
      h("strong", {}, "This is shown only once. "),
      "The secret is the only way back into your account: there is no password reset. Copy it somewhere safe, such as a password manager."),
    h("label", { for: "secret-value" }, "Secret"),
    h("output", { id: "secret-value", class: "secret-value" }, secret),
    h("div", { class: "row" }, copyButton),
    h("div", { class: "check" }, remember, h("label", { for: rememberId }, "Remember me on this device")),
    next);
}
