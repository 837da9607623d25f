// The "try it" forms of the API reference: each calls its method with the
// generated client, as the signed-in user.
import { createClient } from "@connectrpc/connect";
import { fromJson, toJsonString, type DescMethod, type DescService, type JsonValue } from "@bufbuild/protobuf";
import { AuthService } from "../gen/foxhole/v1/auth_pb";
import { FileService } from "../gen/foxhole/v1/file_pb";
import { ProfileService } from "../gen/foxhole/v1/profile_pb";
import { RealtimeService } from "../gen/foxhole/v1/realtime_pb";
import { me, signedIn, transport } from "../session";
import { explain } from "../errors";
import { $, h, uid } from "../dom";

const services: DescService[] = [AuthService, ProfileService, FileService, RealtimeService];

// prepared marks a reference whose forms are in place.
const prepared = new WeakSet<Element>();

export async function showDocs(view: HTMLElement) {
  if (!view.querySelector(".docs-body")) {
    // Opened from the app: the reference is the prerendered /docs page.
    const res = await fetch("/docs");
    if (!res.ok) throw new Error(`the reference did not load (HTTP ${res.status})`);
    const page = new DOMParser().parseFromString(await res.text(), "text/html");
    view.replaceChildren(...[...page.getElementById("docs-view")!.childNodes].map((n) => document.importNode(n, true)));
  }
  updateSignedIn(view);
  if (prepared.has(view)) return;
  prepared.add(view);
  for (const c of view.querySelectorAll("pre.curl code")) c.textContent = c.textContent!.replaceAll("http://127.0.0.1:8080", location.origin);
  for (const article of view.querySelectorAll<HTMLElement>("article.method")) {
    const service = services.find((s) => s.typeName === article.dataset.service);
    const method = service?.methods.find((m) => m.name === article.dataset.method);
    const slot = $(".try", article);
    if (!service || !method) continue;
    slot.replaceChildren(tryForm(service, method, slot.dataset.example ?? "{}"));
  }
}

function updateSignedIn(view: HTMLElement) {
  let note = view.querySelector<HTMLElement>(".who-note");
  if (!note) {
    note = h("p", { class: "who-note", role: "status" });
    view.querySelector(".intro")?.append(note);
  }
  note.textContent = signedIn()
    ? `"Try it" calls are made as ${me?.screenName ?? "you"}, with your token.`
    : `You are not signed in: only Register and CreateToken can be tried. Sign in from the app first (the App link above).`;
}

function tryForm(service: DescService, method: DescMethod, example: string): HTMLElement {
  const id = uid("req");
  const input = h("textarea", { id, rows: 3, spellcheck: "false", class: "code" });
  input.value = JSON.stringify(JSON.parse(example), null, 2);
  const out = h("pre", { class: "result", "aria-live": "polite", tabindex: 0, hidden: true });
  const button = h("button", { type: "submit" }, "Send");
  const form = h("form", { class: "try-form", "aria-label": `Try ${method.name}` },
    h("label", { for: id }, `Try ${method.name}: request as JSON`), input, button, out);
  if (method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming") {
    input.disabled = button.disabled = true;
    return h("p", { class: "muted" }, "Browsers cannot send client streams (fetch has no streaming request bodies on HTTP/1.1); use PUT /files/{name} or gRPC.");
  }
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    out.hidden = false;
    out.classList.remove("error");
    out.textContent = "…";
    button.disabled = true;
    try {
      const req = fromJson(method.input, JSON.parse(input.value) as JsonValue);
      const client = createClient(service, transport) as unknown as Record<string, (req: unknown, opt?: { signal?: AbortSignal }) => unknown>;
      const call = (r: unknown, opt?: { signal?: AbortSignal }) => client[method.localName](r, opt);
      if (method.methodKind === "server_streaming") {
        // Show what arrives in five seconds, at most ten messages.
        const lines: string[] = [];
        const signal = AbortSignal.timeout(5000);
        try {
          for await (const m of call(req, { signal }) as AsyncIterable<never>) {
            lines.push(toJsonString(method.output, m));
            out.textContent = lines.join("\n");
            if (lines.length >= 10) break;
          }
        } catch (err) {
          if (!signal.aborted) throw err;
        }
        out.textContent = (lines.join("\n") || "(no message yet)") + "\n— stopped after 5 s or 10 messages";
      } else {
        const res = await (call(req) as Promise<never>);
        out.textContent = toJsonString(method.output, res, { prettySpaces: 2 });
      }
    } catch (err) {
      out.classList.add("error");
      out.textContent = err instanceof SyntaxError ? `The request is not valid JSON: ${err.message}` : explain(err);
    } finally {
      button.disabled = false;
    }
  });
  return form;
}
