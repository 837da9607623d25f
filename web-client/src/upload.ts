// upload sends a File with PUT /files/{name}. The browser streams it from
// disk (it is never read into memory), and XMLHttpRequest reports upload
// progress, which fetch cannot.
import { ConnectError, Code } from "@connectrpc/connect";
import { fromJson } from "@bufbuild/protobuf";
import { FileSchema, type File as StoredFile } from "./gen/foxhole/v1/file_pb";
import { codeOf } from "./errors";
import { renew, validToken } from "./session";

export interface Upload {
  done: Promise<StoredFile>;
  cancel(): void;
}

export function upload(file: File, progress: (sent: number, total: number) => void): Upload {
  let xhr: XMLHttpRequest | undefined;
  let cancelled = false;
  const send = (token: string) =>
    new Promise<StoredFile>((resolve, reject) => {
      xhr = new XMLHttpRequest();
      xhr.open("PUT", `/files/${encodeURIComponent(file.name)}`);
      xhr.setRequestHeader("Authorization", `Bearer ${token}`);
      if (file.type) xhr.setRequestHeader("Content-Type", file.type);
      xhr.upload.onprogress = (e) => progress(e.loaded, e.lengthComputable ? e.total : file.size);
      xhr.onload = () => {
        let body: unknown;
        try { body = JSON.parse(xhr!.responseText); } catch { body = undefined; }
        if (xhr!.status === 201 || xhr!.status === 200) {
          resolve(fromJson(FileSchema, body as never, { ignoreUnknownFields: true }));
          return;
        }
        const e = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
        const err = new ConnectError(e?.message ?? `the server answered HTTP ${xhr!.status}`, e?.code ? codeOf(e.code) : Code.Unknown);
        const retry = xhr!.getResponseHeader("Retry-After");
        if (retry) err.metadata.set("retry-after", retry);
        reject(err);
      };
      xhr.onerror = () => reject(new ConnectError("the network failed during the upload", Code.Unavailable));
      xhr.onabort = () => reject(new ConnectError("upload cancelled", Code.Canceled));
      xhr.send(file);
    });
  const done = (async () => {
    try {
      return await send(await validToken());
    } catch (e) {
      // A token revoked mid-way: once more with a fresh one.
      if (!cancelled && ConnectError.from(e).code === Code.Unauthenticated) return send(await renew());
      throw e;
    }
  })();
  return { done, cancel: () => { cancelled = true; xhr?.abort(); } };
}
