// The session: the secret (in memory; in localStorage only with "remember
// me"), the access token (in memory only), renewed from the secret before it
// expires, and the one transport every client shares.
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { AuthService } from "./gen/foxhole/v1/auth_pb";
import { ProfileService } from "./gen/foxhole/v1/profile_pb";
import type { User } from "./gen/foxhole/v1/user_pb";
import { retryAfter } from "./errors";

const STORED_SECRET = "foxhole.secret";
// Renew this long before the token expires.
const RENEW_AHEAD_MS = 60_000;

// Calls that need no token.
const PUBLIC = new Set([`${AuthService.typeName}/Register`, `${AuthService.typeName}/CreateToken`]);

let secret: string | undefined;
let token: string | undefined;
let expiresAt = 0;
let renewing: Promise<string> | undefined;
// rotating is set while RotateSecret is in flight: the old secret is dying,
// and a renewal must wait for the new one.
let rotating: Promise<unknown> | undefined;
let timer: ReturnType<typeof setTimeout> | undefined;
export let me: User | undefined;

// Listeners hear "signed-in", "signed-out" (with a reason) and "user".
export const events = new EventTarget();

const auth: Interceptor = (next) => async (req) => {
  const isPublic = PUBLIC.has(`${req.service.typeName}/${req.method.name}`);
  if (!isPublic) req.header.set("Authorization", `Bearer ${await validToken()}`);
  try {
    return await next(req);
  } catch (e) {
    // A unary call whose token was just revoked or expired is sent once
    // more with a fresh one; streams resume on their own (events.ts).
    if (!isPublic && !req.stream && ConnectError.from(e).code === Code.Unauthenticated && secret && req.method.name !== "RotateSecret") {
      req.header.set("Authorization", `Bearer ${await renew()}`);
      return await next(req);
    }
    throw e;
  }
};

export const transport = createConnectTransport({ baseUrl: location.origin, interceptors: [auth] });
export const authClient = createClient(AuthService, transport);
export const profileClient = createClient(ProfileService, transport);

export const signedIn = () => secret !== undefined && token !== undefined;
export const remembered = () => localStorage.getItem(STORED_SECRET);

// validToken is a token good for at least a little while.
export async function validToken(): Promise<string> {
  if (token && expiresAt - Date.now() > 30_000) return token;
  return renew();
}

// renew trades the secret for a new token, once however many ask at once.
export function renew(): Promise<string> {
  if (!secret) return Promise.reject(new ConnectError("not signed in", Code.Unauthenticated));
  renewing ??= (async () => {
    try {
      for (let attempt = 0; ; attempt++) {
        await rotating?.catch(() => {});
        const used: string | undefined = secret;
        if (!used) throw new ConnectError("signed out", Code.Unauthenticated);
        try {
          const res = await authClient.createToken({ userSecret: used });
          token = res.accessToken;
          expiresAt = res.expiresAt ? timestampMs(res.expiresAt) : Date.now() + 5 * 60_000;
          schedule();
          return token;
        } catch (e) {
          const err = ConnectError.from(e);
          if (err.code === Code.Unauthenticated && secret !== used && attempt < 3) continue;
          if (err.code === Code.Unauthenticated && me) {
            signOut("Your secret no longer works (it was replaced, perhaps on another device). Sign in with the new one.");
            throw err;
          }
          // Rate limited or unreachable: wait as told, a few times.
          if (attempt < 3 && (err.code === Code.ResourceExhausted || err.code === Code.Unavailable || err.code === Code.Unknown)) {
            await new Promise((r) => setTimeout(r, 1000 * (retryAfter(err) ?? 2 ** attempt)));
            continue;
          }
          throw err;
        }
      }
    } finally {
      renewing = undefined;
    }
  })();
  return renewing;
}

function schedule() {
  clearTimeout(timer);
  const wait = Math.max(5_000, expiresAt - Date.now() - RENEW_AHEAD_MS);
  timer = setTimeout(() => renew().catch(() => {}), wait);
}

// signIn trades a secret for a token and loads the profile.
export async function signIn(s: string, remember: boolean) {
  secret = s.trim();
  try {
    await renew();
    me = (await profileClient.getProfile({})).user;
  } catch (e) {
    secret = token = undefined;
    throw e;
  }
  if (remember) localStorage.setItem(STORED_SECRET, secret);
  else localStorage.removeItem(STORED_SECRET);
  events.dispatchEvent(new Event("signed-in"));
}

export function setRemember(remember: boolean) {
  if (remember && secret) localStorage.setItem(STORED_SECRET, secret);
  else localStorage.removeItem(STORED_SECRET);
}

// holdsSecret tells whether the session holds the secret it signed in
// with, which RotateSecret needs as proof besides the token.
export const holdsSecret = () => secret !== undefined;

// replaceSecret rotates the secret, proving the current one (the one held,
// or current when given): every older token stops working, so a new one is
// taken at once, and the stored copy follows.
export async function replaceSecret(current?: string): Promise<string> {
  const proof = current?.trim() || secret;
  if (!proof) throw new ConnectError("your current secret is needed to replace it", Code.InvalidArgument);
  await validToken();
  const call = authClient.rotateSecret({ userSecret: proof });
  rotating = call;
  let res;
  try {
    res = await call;
  } finally {
    rotating = undefined;
  }
  const wasStored = remembered() !== null;
  secret = res.userSecret;
  token = undefined;
  expiresAt = 0;
  if (wasStored) localStorage.setItem(STORED_SECRET, secret);
  await renew();
  return secret;
}

export function setMe(u: User | undefined) {
  me = u;
  events.dispatchEvent(new Event("user"));
}

export function signOut(reason?: string) {
  const was = secret !== undefined;
  secret = token = me = undefined;
  expiresAt = 0;
  clearTimeout(timer);
  localStorage.removeItem(STORED_SECRET);
  if (was) events.dispatchEvent(new CustomEvent("signed-out", { detail: reason }));
}
