import { Code, ConnectError } from "@connectrpc/connect";

// codeOf reads a Connect code name ("invalid_argument") as a Code.
export function codeOf(name: string): Code {
  const key = name.replace(/(^|_)([a-z])/g, (_, __, c: string) => c.toUpperCase()) as keyof typeof Code;
  return Code[key] ?? Code.Unknown;
}

// retryAfter is the server's Retry-After, in seconds, if it sent one.
export function retryAfter(err: ConnectError): number | undefined {
  const v = err.metadata.get("retry-after");
  const n = v ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

// explain turns any error into a sentence a person understands.
export function explain(e: unknown, doing?: string): string {
  const err = ConnectError.from(e);
  const said = err.rawMessage;
  const what = doing ? `Could not ${doing}: ` : "";
  const wait = retryAfter(err);
  // fetch reports a lost network as a TypeError, which Connect calls unknown.
  const code = err.code === Code.Unknown && /fetch|network/i.test(said) ? Code.Unavailable : err.code;
  switch (code) {
    case Code.Canceled:
      return `${what}it was cancelled.`;
    case Code.InvalidArgument:
      return `${what}${said || "the server did not accept what was sent"}.`;
    case Code.NotFound:
      return `${what}it does not exist any more (it may have been deleted, or the id is wrong).`;
    case Code.AlreadyExists:
      return `${what}it already exists.`;
    case Code.PermissionDenied:
      return `${what}you are not allowed to do that.`;
    case Code.Unauthenticated:
      return `${what}your session has ended. Sign in again with your secret.`;
    case Code.ResourceExhausted:
      return `${what}${said || "a limit was reached"}.` + (wait !== undefined ? ` Try again in ${wait} s.` : "");
    case Code.FailedPrecondition:
    case Code.Aborted:
      return `${what}${said || "it conflicted with another change"}. Reload and try again.`;
    case Code.OutOfRange:
      return `${what}${said || "that is out of range"}.`;
    case Code.Unimplemented:
      return `${what}this server does not offer that (it may be an older version of Foxhole).`;
    case Code.DeadlineExceeded:
      return `${what}the server took too long to answer. Try again.`;
    case Code.Unavailable:
      return `${what}the server cannot be reached. Check your connection; Foxhole will keep trying.`;
    case Code.DataLoss:
    case Code.Internal:
    case Code.Unknown:
    default:
      return `${what}the server hit an error${said ? ` (${said})` : ""}. Try again; if it keeps happening, tell whoever runs this Foxhole.`;
  }
}
