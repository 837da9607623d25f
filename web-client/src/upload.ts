// upload sends a File over tus (resumable uploads, /files/tus/) with
// tus-js-client: in chunks the browser streams from disk, each retried from
// the offset the server kept when the network drops, and resumed after a
// reload (the upload's URL is remembered per file). The finished upload is
// a file whose id is the upload's.
import { ConnectError, Code, createClient } from "@connectrpc/connect";
import * as tus from "tus-js-client";
import { FileService, type File as StoredFile } from "./gen/foxhole/v1/file_pb";
import { codeOf } from "./errors";
import { renew, transport, validToken } from "./session";

const files = createClient(FileService, transport);

// CHUNK is the size of one PATCH: a cut costs at most the bytes of one
// chunk in flight, which the server keeps anyway.
const CHUNK = 8 << 20;

export interface Upload {
  done: Promise<StoredFile>;
  cancel(): void;
  pause(): void;
  resume(): void;
}

// toConnectError turns what tus-js-client reports into the errors the app
// explains.
function toConnectError(err: Error): ConnectError {
  const res = (err as tus.DetailedError).originalResponse;
  if (!res) return new ConnectError("the network failed during the upload", Code.Unavailable);
  let e: { code?: string; message?: string } | undefined;
  try { e = JSON.parse(res.getBody())?.error; } catch { e = undefined; }
  const status = res.getStatus();
  const ce = new ConnectError(e?.message ?? `the server answered HTTP ${status}`, e?.code ? codeOf(e.code) : Code.Unknown);
  const retry = res.getHeader("Retry-After");
  if (retry) ce.metadata.set("retry-after", retry);
  return ce;
}

export function upload(file: File, progress: (sent: number, total: number) => void): Upload {
  let up: tus.Upload | undefined;
  let cancelled = false;
  let renewNext = false;
  const done = new Promise<StoredFile>((resolve, reject) => {
    up = new tus.Upload(file, {
      endpoint: `${location.origin}/files/tus/`,
      chunkSize: CHUNK,
      // Keep trying through a network that comes and goes (a train): up
      // to about five minutes in all.
      retryDelays: [0, 1000, 2000, 3000, 5000, 5000, 10000, 10000, 15000, 20000, 30000, 30000, 30000, 30000, 30000, 30000],
      metadata: { filename: file.name, filetype: file.type },
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      onBeforeRequest: async (req) => {
        const token = renewNext ? await renew() : await validToken();
        renewNext = false;
        req.setHeader("Authorization", `Bearer ${token}`);
      },
      onShouldRetry: (err, _attempt, options) => {
        const status = (err as tus.DetailedError).originalResponse?.getStatus() ?? 0;
        if (cancelled) return false;
        if (status === 401) { renewNext = true; return true; } // a token revoked mid-way
        if (status === 409 || status === 423 || status === 429) return true;
        if (status >= 400 && status < 500) return false;
        return (options.retryDelays?.length ?? 0) > 0;
      },
      onProgress: (sent, total) => progress(sent, total),
      onError: (err) => reject(cancelled ? new ConnectError("upload cancelled", Code.Canceled) : toConnectError(err)),
      onSuccess: async () => {
        try {
          const id = up!.url!.slice(up!.url!.lastIndexOf("/") + 1);
          const res = await files.getFile({ id });
          resolve(res.file!);
        } catch (e) {
          reject(e);
        }
      },
    });
    // The same file, chosen again after a reload, continues where it was.
    void up.findPreviousUploads().then((previous) => {
      if (previous.length > 0) up!.resumeFromPreviousUpload(previous[0]);
      up!.start();
    });
  });
  return {
    done,
    cancel: () => {
      cancelled = true;
      // Ends the upload on the server too, freeing its quota at once.
      void up?.abort(true).catch(() => undefined);
      progress(0, file.size);
    },
    pause: () => void up?.abort(false),
    resume: () => up?.start(),
  };
}
