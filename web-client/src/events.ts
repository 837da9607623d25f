// The Subscribe loop: one stream of events for the whole app, resumed from
// the last event id after any break, so nothing is missed.
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { RealtimeService, type Event } from "./gen/foxhole/v1/realtime_pb";
import { renew, signedIn, transport } from "./session";

export const realtime = createClient(RealtimeService, transport);

export type Status = "connecting" | "online" | "reconnecting" | "offline";

export interface Handlers {
  event(e: Event): void;
  status(s: Status, detail?: string): void;
  // ended runs when the session cannot go on (the secret no longer works).
  ended(): void;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(t); resolve(); }, { once: true });
  });

// subscribe runs until stop() is called. The first stream replays the
// retained history (afterEventId 0); every later one resumes after the last
// stored event seen.
export function subscribe(h: Handlers): { stop(): void } {
  const stopped = new AbortController();
  let lastId = 0n;
  let stream: AbortController | undefined;
  // Wait for the network to come back rather than spin while it is gone.
  let wake: AbortController = new AbortController();
  const offline = () => { h.status("offline", "No network: waiting for it to come back."); stream?.abort(); };
  const online = () => wake.abort();
  window.addEventListener("offline", offline);
  window.addEventListener("online", online);

  (async () => {
    let backoff = 500;
    let first = true;
    while (!stopped.signal.aborted) {
      if (!navigator.onLine) {
        h.status("offline", "No network: waiting for it to come back.");
        wake = new AbortController();
        await sleep(30_000, AbortSignal.any([wake.signal, stopped.signal]));
        continue;
      }
      h.status(first ? "connecting" : "reconnecting");
      stream = new AbortController();
      try {
        const open = realtime.subscribe({ afterEventId: lastId }, { signal: AbortSignal.any([stream.signal, stopped.signal]) });
        let announced = false;
        for await (const res of open) {
          if (!announced) { announced = true; first = false; backoff = 500; h.status("online"); }
          if (res.kind.case !== "event") continue;
          const ev = res.kind.value;
          if (ev.id > lastId) lastId = ev.id;
          h.event(ev);
        }
      } catch (e) {
        if (stopped.signal.aborted) break;
        const err = ConnectError.from(e);
        if (err.code === Code.Unauthenticated) {
          // The token expired or was revoked: take a new one from the secret
          // and resume at once, or give up if the secret no longer works.
          try {
            await renew();
            continue;
          } catch (re) {
            if (ConnectError.from(re).code === Code.Unauthenticated || !signedIn()) { h.ended(); break; }
          }
        }
        if (err.code === Code.OutOfRange) {
          // The cursor is older than the retained history: start afresh.
          lastId = 0n;
        }
        if (!navigator.onLine || stream.signal.aborted) continue;
      }
      if (stopped.signal.aborted) break;
      const wait = backoff + Math.random() * backoff;
      backoff = Math.min(backoff * 2, 15_000);
      h.status("reconnecting", `Connection lost; trying again in ${Math.ceil(wait / 1000)} s.`);
      wake = new AbortController();
      await sleep(wait, AbortSignal.any([wake.signal, stopped.signal]));
    }
  })();

  return {
    stop() {
      stopped.abort();
      window.removeEventListener("offline", offline);
      window.removeEventListener("online", online);
    },
  };
}
