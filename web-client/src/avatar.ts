// Avatars beside names: GET /avatars/{id} is public, so an <img> serves;
// a user without one answers 404 and the image hides itself (remembered,
// so that it is not asked for again in this page).
import { h } from "./dom";

const missing = new Set<string>();
// A user's current avatar URL when known (from their profile): it changes
// with every new avatar, so the browser may cache it for good.
const known = new Map<string, string>();

export function knowAvatar(userId: string, url: string | undefined) {
  if (url) { known.set(userId, url); missing.delete(userId); }
  else { known.delete(userId); missing.add(userId); }
}

export function avatarImg(userId: string | undefined, size = 32): HTMLElement | null {
  if (!userId || missing.has(userId)) return null;
  const base = known.get(userId) ?? `/avatars/${encodeURIComponent(userId)}?`;
  const src = `${base}${base.endsWith("?") ? "" : "&"}size=${size}`;
  const img = h("img", { class: "avatar", src, alt: "", width: size / 2 + 4, height: size / 2 + 4, loading: "lazy", decoding: "async", "data-user-id": userId });
  img.addEventListener("error", () => { missing.add(userId); img.remove(); });
  return img;
}
