// renderDocs turns the descriptors of proto/foxhole (a FileDescriptorSet as
// JSON, with source info, from `buf build`) into the HTML of the API
// reference. It runs at build time (vite.config.ts), so the reference is
// generated from the protos and their comments, never written by hand.

interface Location {
  path?: number[];
  leadingComments?: string;
  trailingComments?: string;
}
interface Field {
  name: string;
  number: number;
  label?: string;
  type: string;
  typeName?: string;
  jsonName?: string;
  oneofIndex?: number;
  proto3Optional?: boolean;
}
interface Message {
  name: string;
  field?: Field[];
  nestedType?: Message[];
  enumType?: Enum[];
  oneofDecl?: { name: string }[];
}
interface Enum {
  name: string;
  value?: { name: string; number: number }[];
}
// Policy is a method's `(foxhole.v1.policy)` option, as protojson prints it:
// what the server enforces about the method (proto/foxhole/v1/policy.proto).
interface Policy {
  access?: string;
  body?: string;
  compressed?: boolean;
  rateLimit?: string;
  clientAddress?: boolean;
  readTimeout?: string;
  streamDeadlines?: boolean;
  maxDuration?: string;
  slot?: string;
  requestTimeout?: string;
}
interface Method {
  name: string;
  inputType: string;
  outputType: string;
  clientStreaming?: boolean;
  serverStreaming?: boolean;
  options?: { "[foxhole.v1.policy]"?: Policy };
}
interface Service {
  name: string;
  method?: Method[];
}
interface File {
  name: string;
  package: string;
  messageType?: Message[];
  enumType?: Enum[];
  service?: Service[];
  sourceCodeInfo?: { location?: Location[] };
}
export interface DescriptorSet {
  file: File[];
}

const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

// Proto comments are plain text with `code` spans and blank-line paragraphs.
function prose(comment: string | undefined): string {
  if (!comment) return "";
  return comment
    .trim()
    .split(/\n\s*\n/)
    .map((p) => "<p>" + esc(p.replace(/\n\s*/g, " ")).replace(/`([^`]+)`/g, "<code>$1</code>") + "</p>")
    .join("");
}

const scalar: Record<string, string> = {
  TYPE_DOUBLE: "double", TYPE_FLOAT: "float", TYPE_INT64: "int64", TYPE_UINT64: "uint64",
  TYPE_INT32: "int32", TYPE_FIXED64: "fixed64", TYPE_FIXED32: "fixed32", TYPE_BOOL: "bool",
  TYPE_STRING: "string", TYPE_BYTES: "bytes", TYPE_UINT32: "uint32", TYPE_SFIXED32: "sfixed32",
  TYPE_SFIXED64: "sfixed64", TYPE_SINT32: "sint32", TYPE_SINT64: "sint64",
};

// An example JSON value for a field, as protojson prints it.
function example(f: Field, messages: Map<string, Message>, depth: number): unknown {
  const one = (): unknown => {
    switch (f.type) {
      case "TYPE_STRING": return "";
      case "TYPE_BOOL": return false;
      case "TYPE_BYTES": return "";
      case "TYPE_INT64": case "TYPE_UINT64": case "TYPE_SINT64": case "TYPE_FIXED64": case "TYPE_SFIXED64": return "0";
      case "TYPE_ENUM": return 0;
      case "TYPE_MESSAGE": {
        const t = f.typeName!.slice(1);
        if (t === "google.protobuf.Timestamp") return "2026-01-01T00:00:00Z";
        if (t === "google.protobuf.FieldMask") return "";
        const m = messages.get(t);
        return m && depth < 2 ? exampleOf(m, messages, depth + 1) : {};
      }
      default: return 0;
    }
  };
  return f.label === "LABEL_REPEATED" ? [] : one();
}

function exampleOf(m: Message, messages: Map<string, Message>, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const seenOneof = new Set<number>();
  for (const f of m.field ?? []) {
    if (f.oneofIndex !== undefined && !f.proto3Optional) {
      if (seenOneof.has(f.oneofIndex)) continue;
      seenOneof.add(f.oneofIndex);
    }
    out[f.jsonName ?? f.name] = example(f, messages, depth);
  }
  return out;
}

// The example request a "try it" form starts from: only what a caller
// usually sets (no server-set fields such as ids and times).
export function exampleRequest(set: DescriptorSet, typeName: string): string {
  const messages = index(set).messages;
  const m = messages.get(typeName.replace(/^\./, ""));
  return JSON.stringify(m ? exampleOf(m, messages) : {});
}

function index(set: DescriptorSet) {
  const messages = new Map<string, Message>();
  const enums = new Map<string, Enum>();
  const walk = (prefix: string, ms: Message[] = [], es: Enum[] = []) => {
    for (const e of es) enums.set(prefix + e.name, e);
    for (const m of ms) {
      messages.set(prefix + m.name, m);
      walk(prefix + m.name + ".", m.nestedType, m.enumType);
    }
  };
  for (const f of set.file) walk(f.package + ".", f.messageType, f.enumType);
  return { messages, enums };
}

const anchor = (full: string) => "t-" + full.replace(/\./g, "-");

function typeLink(f: Field): string {
  if (f.typeName) {
    const full = f.typeName.slice(1);
    const short = esc(full.replace(/^foxhole\.v1\./, ""));
    return full.startsWith("foxhole.") ? `<a href="#${anchor(full)}">${short}</a>` : short;
  }
  return scalar[f.type] ?? f.type;
}

const bodies: Record<string, string> = {
  BODY_SMALL: "small (FOXHOLE_MAX_REQUEST_BYTES)",
  BODY_MESSAGE: "a chat message (FOXHOLE_MESSAGE_MAX_CHARS)",
  BODY_FILE: "a whole file (FOXHOLE_FILE_UNARY_MAX_BYTES)",
  BODY_FILE_STREAM: "chunks up to FOXHOLE_FILE_MAX_BYTES",
};
const rates: Record<string, string> = {
  RATE_LIMIT_NONE: "none",
  RATE_LIMIT_ADDRESS: "per client address (FOXHOLE_AUTH_RATE)",
  RATE_LIMIT_USER: "per user (FOXHOLE_MESSAGE_RATE)",
  RATE_LIMIT_USER_LIST: "per user (FOXHOLE_LIST_RATE)",
  RATE_LIMIT_REGISTER: "per client address (FOXHOLE_AUTH_RATE), IPv6 /56 and /48, and for all (FOXHOLE_REGISTER_RATE_*)",
  RATE_LIMIT_ROOM_CREATE: "per user (FOXHOLE_ROOM_CREATE_RATE)",
  RATE_LIMIT_ROOM_INVITE: "per user (FOXHOLE_ROOM_INVITE_RATE)",
};

// The policy of a method, as a list of what the server enforces.
function policyList(p: Policy): string {
  const items = [
    ["Access", p.access === "ACCESS_PUBLIC" ? "public" : "access token"],
    ["Body", (bodies[p.body ?? ""] ?? p.body ?? "") + (p.compressed ? ", may be gzipped" : "")],
    ["Rate limit", rates[p.rateLimit ?? ""] ?? p.rateLimit ?? ""],
    ["Request deadline", p.readTimeout ? `${p.readTimeout} to send the whole request` : p.requestTimeout ? `${p.requestTimeout} to send the request (a stream's first message), then lifted` : "none"],
  ];
  if (p.streamDeadlines) items.push(["Stream", "cut off when the peer stops sending or reading (idle limits)"]);
  if (p.maxDuration) items.push(["Lasts at most", p.maxDuration]);
  if (p.slot === "SLOT_UPLOAD") items.push(["Holds", "one of the caller's upload slots (FOXHOLE_MAX_UPLOADS_PER_USER) and one of the server's (FOXHOLE_MAX_UPLOADS); moves at least FOXHOLE_TRANSFER_MIN_RATE"]);
  if (p.slot === "SLOT_DOWNLOAD") items.push(["Holds", "one of the caller's download slots (FOXHOLE_MAX_DOWNLOADS_PER_USER) and one of the server's (FOXHOLE_MAX_DOWNLOADS); moves at least FOXHOLE_TRANSFER_MIN_RATE"]);
  if (p.clientAddress) items.push(["Client address", "read (through FOXHOLE_TRUSTED_PROXIES) for limits per address"]);
  return `<dl class="policy">${items.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join("")}</dl>`;
}

export function renderDocs(set: DescriptorSet, origin = "http://127.0.0.1:8080"): string {
  const { messages } = index(set);
  const files = [...set.file].sort((a, b) => a.name.localeCompare(b.name));
  const comments = new Map<File, Map<string, Location>>();
  for (const f of files) {
    const byPath = new Map<string, Location>();
    for (const l of f.sourceCodeInfo?.location ?? []) byPath.set((l.path ?? []).join("."), l);
    comments.set(f, byPath);
  }
  const comment = (f: File, path: number[]) => {
    const l = comments.get(f)!.get(path.join("."));
    return l?.leadingComments ?? l?.trailingComments;
  };

  const toc: string[] = [];
  const body: string[] = [];

  for (const f of files) {
    (f.service ?? []).forEach((s, si) => {
      const full = `${f.package}.${s.name}`;
      toc.push(`<li><a href="#${anchor(full)}">${esc(s.name)}</a><ul>` +
        (s.method ?? []).map((m) => `<li><a href="#${anchor(full + "." + m.name)}">${esc(m.name)}</a></li>`).join("") +
        "</ul></li>");
      body.push(`<section class="service" id="${anchor(full)}" aria-labelledby="${anchor(full)}-h">`,
        `<h2 id="${anchor(full)}-h">${esc(s.name)}</h2>`, prose(comment(f, [6, si])));
      (s.method ?? []).forEach((m, mi) => {
        const c = comment(f, [6, si, 2, mi]);
        const path = `/${full}/${m.name}`;
        const kind = m.clientStreaming ? "client stream" : m.serverStreaming ? "server stream" : "unary";
        const policy = m.options?.["[foxhole.v1.policy]"] ?? {};
        const isPublic = policy.access === "ACCESS_PUBLIC";
        const input = m.inputType.slice(1);
        const reqExample = JSON.stringify(exampleOf(messages.get(input) ?? {}  as Message, messages));
        const auth = isPublic ? "" : ` \\\n  -H "Authorization: Bearer $TOKEN"`;
        let curl: string;
        if (m.clientStreaming) {
          curl = `# Client streams need HTTP/2: use gRPC, for example\n` +
            `buf curl --protocol grpc --http2-prior-knowledge -H "Authorization: Bearer $TOKEN" \\\n  -d @- ${origin}${path}` +
            (full.endsWith("FileService") ? `\n# or, for files, the plain upload:\ncurl -T photo.jpg -H "Authorization: Bearer $TOKEN" ${origin}/files/photo.jpg` : "");
        } else if (m.serverStreaming) {
          const len = new TextEncoder().encode(reqExample).length;
          const prefix = "\\x00" + [24, 16, 8, 0].map((s) => "\\x" + ((len >> s) & 255).toString(16).padStart(2, "0")).join("");
          curl = `curl -sN -H 'Content-Type: application/connect+json'${auth} \\\n  --data-binary @<(printf '${prefix}%s' '${reqExample}') \\\n  ${origin}${path}`;
        } else {
          curl = `curl -s -H 'Content-Type: application/json'${auth} \\\n  -d '${reqExample}' \\\n  ${origin}${path}`;
        }
        body.push(`<article class="method" id="${anchor(full + "." + m.name)}" data-service="${esc(full)}" data-method="${esc(m.name)}" data-kind="${kind}">`,
          `<h3><span class="method-name">${esc(m.name)}</span> <span class="badge">${kind}</span> <span class="badge">${isPublic ? "public" : "authenticated"}</span></h3>`,
          `<p class="path"><code>POST ${esc(path)}</code></p>`,
          prose(c),
          policyList(policy),
          `<p>Request: <a href="#${anchor(input)}">${esc(input.replace(/^foxhole\.v1\./, ""))}</a>${m.clientStreaming ? " (a stream of them)" : ""}. ` +
          `Response: <a href="#${anchor(m.outputType.slice(1))}">${esc(m.outputType.slice(1).replace(/^foxhole\.v1\./, ""))}</a>${m.serverStreaming ? " (a stream of them)" : ""}.</p>`,
          `<pre class="curl"><code>${esc(curl)}</code></pre>`,
          `<div class="try" data-example="${esc(reqExample)}"></div>`,
          `</article>`);
      });
      body.push("</section>");
    });
  }

  // Messages and enums, in file order.
  const types: string[] = [];
  const msgToc: string[] = [];
  for (const f of files) {
    const renderEnum = (e: Enum, full: string, path: number[]) => {
      msgToc.push(`<li><a href="#${anchor(full)}">${esc(full.replace(/^foxhole\.v1\./, ""))}</a></li>`);
      types.push(`<section class="type" id="${anchor(full)}"><h3>enum ${esc(full.replace(/^foxhole\.v1\./, ""))}</h3>`, prose(comment(f, path)),
        `<table><thead><tr><th scope="col">Value</th><th scope="col">Number</th><th scope="col">Meaning</th></tr></thead><tbody>`,
        ...(e.value ?? []).map((v, vi) => `<tr><td><code>${esc(v.name)}</code></td><td>${v.number}</td><td>${prose(comment(f, [...path, 2, vi]))}</td></tr>`),
        `</tbody></table></section>`);
    };
    const renderMessage = (m: Message, full: string, path: number[]) => {
      msgToc.push(`<li><a href="#${anchor(full)}">${esc(full.replace(/^foxhole\.v1\./, ""))}</a></li>`);
      const rows = (m.field ?? []).map((fd, fi) => {
        const oneof = fd.oneofIndex !== undefined && !fd.proto3Optional ? ` <span class="badge">oneof ${esc(m.oneofDecl![fd.oneofIndex].name)}</span>` : "";
        const label = fd.label === "LABEL_REPEATED" ? "repeated " : fd.proto3Optional ? "optional " : "";
        return `<tr><td><code>${esc(fd.jsonName ?? fd.name)}</code><br><small>${esc(fd.name)} = ${fd.number}</small></td><td>${label}${typeLink(fd)}${oneof}</td><td>${prose(comment(f, [...path, 2, fi]))}</td></tr>`;
      });
      types.push(`<section class="type" id="${anchor(full)}"><h3>${esc(full.replace(/^foxhole\.v1\./, ""))}</h3>`, prose(comment(f, path)),
        rows.length
          ? `<table><thead><tr><th scope="col">Field (JSON, proto)</th><th scope="col">Type</th><th scope="col">Meaning</th></tr></thead><tbody>${rows.join("")}</tbody></table>`
          : "<p><em>No fields.</em></p>",
        "</section>");
      (m.enumType ?? []).forEach((e, ei) => renderEnum(e, `${full}.${e.name}`, [...path, 4, ei]));
      (m.nestedType ?? []).forEach((n, ni) => renderMessage(n, `${full}.${n.name}`, [...path, 3, ni]));
    };
    (f.messageType ?? []).forEach((m, mi) => renderMessage(m, `${f.package}.${m.name}`, [4, mi]));
    (f.enumType ?? []).forEach((e, ei) => renderEnum(e, `${f.package}.${e.name}`, [5, ei]));
  }

  return `<nav class="docs-toc" aria-label="Services and methods"><h2>Services</h2><ul>${toc.join("")}</ul>` +
    `<h2>Messages</h2><ul class="types">${msgToc.join("")}</ul></nav>` +
    `<div class="docs-body">` +
    `<section class="intro"><h2>Calling Foxhole</h2>` +
    `<p>Every method is <code>POST /&lt;package&gt;.&lt;Service&gt;/&lt;Method&gt;</code> on one port, over Connect (JSON or binary), gRPC and gRPC-Web. ` +
    `Authenticated methods need <code>Authorization: Bearer &lt;token&gt;</code>: register once, keep the secret, and trade it for a token with CreateToken. ` +
    `Errors carry a Connect code; limits answer <code>resource_exhausted</code> with <code>Retry-After</code>. ` +
    `Besides the RPCs: <code>PUT /files/{name}</code> uploads a raw body, <code>GET /ws</code> is a WebSocket carrying the events of Subscribe, ` +
    `and <code>GET /healthz</code> and <code>GET /readyz</code> are the probes.</p>` +
    `<p>This page is generated from the protos; the "try it" forms call each method with the generated connect-es client, as the signed-in user.</p></section>` +
    body.join("\n") + `<h2 id="types">Messages and enums</h2>` + types.join("\n") + `</div>`;
}
