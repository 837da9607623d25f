// h builds an element. Text is always set as text, never parsed as HTML, so
// nothing a user typed can become markup.
type Child = Node | string | null | undefined | false;
type Attrs = Record<string, string | boolean | number | EventListener | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === "function") el.addEventListener(k.replace(/^on/, ""), v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  el.append(...children.filter((c): c is Node | string => c !== null && c !== undefined && c !== false));
  return el;
}

export const $ = <T extends HTMLElement = HTMLElement>(sel: string, root: ParentNode = document) => root.querySelector<T>(sel)!;

let ids = 0;
export const uid = (prefix: string) => `${prefix}-${++ids}`;

const units = ["B", "KiB", "MiB", "GiB", "TiB"];
export function bytes(n: number): string {
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`;
}

export const time = (d: Date) => d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

// toast shows a message that stays until read: nothing fails silently.
export function toast(text: string, kind: "error" | "info" = "error") {
  const box = $("#toasts");
  const close = h("button", { type: "button", class: "link", "aria-label": "Dismiss" }, "×");
  const item = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, h("span", {}, text), close);
  close.addEventListener("click", () => item.remove());
  box.append(item);
  if (kind === "info") setTimeout(() => item.remove(), 6000);
}

export async function copy(text: string, button: HTMLButtonElement) {
  try {
    await navigator.clipboard.writeText(text);
    const was = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => (button.textContent = was), 2000);
  } catch {
    toast("Could not copy to the clipboard: select the text and copy it by hand.");
  }
}
