/**
 * The real Envoy API protos, loaded with protobufjs from the snapshot that `@grpc/grpc-js-xds` ships in its
 * `deps/` folder (envoy-api, xds, googleapis, protoc-gen-validate). Only the roots the generators need are
 * loaded — never the whole tree, some v2 files there import protos that are not shipped.
 *
 * Field names keep their proto spelling (snake_case), as in Envoy's JSON config dumps.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, isAbsolute, join } from "node:path";
import protobuf from "protobufjs";

const require = createRequire(import.meta.url);

/** The folder of the installed `@grpc/grpc-js-xds` package. */
export const grpcJsXdsDir: string = dirname(require.resolve("@grpc/grpc-js-xds/package.json"));

/** Include folders searched for imports, in order. */
export const envoyProtoIncludeDirs: readonly string[] = [
  join(grpcJsXdsDir, "deps", "envoy-api"),
  join(grpcJsXdsDir, "deps", "xds"),
  join(grpcJsXdsDir, "deps", "googleapis"),
  join(grpcJsXdsDir, "deps", "protoc-gen-validate"),
  // google/protobuf/descriptor.proto (imported by validate.proto and the annotations) ships with protobufjs.
  dirname(require.resolve("protobufjs/package.json")),
];

/** The proto files whose messages the generators and tests use. Their imports are followed. */
export const envoyProtoRoots: readonly string[] = [
  "envoy/config/listener/v3/listener.proto",
  "envoy/config/cluster/v3/cluster.proto",
  "envoy/config/endpoint/v3/endpoint.proto",
  "envoy/extensions/filters/network/wasm/v3/wasm.proto",
  "envoy/extensions/filters/network/dubbo_proxy/v3/dubbo_proxy.proto",
  "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto",
  "envoy/config/core/v3/extension.proto",
  "envoy/extensions/upstreams/http/v3/http_protocol_options.proto",
  "google/protobuf/wrappers.proto",
];

const bundledWellKnown = new Set(
  ["any", "duration", "timestamp", "empty", "struct", "wrappers", "field_mask"].map((n) => `google/protobuf/${n}.proto`),
);

let cached: protobuf.Root | undefined;

/** Loads (once per process) and returns the protobufjs root holding the Envoy messages above. */
export function envoyProtoRoot(): protobuf.Root {
  if (cached) return cached;
  const root = new protobuf.Root();
  root.resolvePath = (_origin: string, target: string): string => {
    if (isAbsolute(target)) return target;
    // protobufjs bundles the well-known types (any, duration, struct, wrappers, ...): let it use those.
    if (target.startsWith("google/protobuf/") && bundledWellKnown.has(target)) return target;
    for (const dir of envoyProtoIncludeDirs) {
      const candidate = join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    throw new Error(`proto import '${target}' not found under ${envoyProtoIncludeDirs.join(", ")}`);
  };
  loadProtoFiles(root, envoyProtoRoots);
  root.resolveAll();
  cached = root;
  return root;
}

/**
 * What `root.loadSync(files, { keepCase: true })` does (imports followed, protobufjs' bundled well-known
 * types used), with each file's text read through `protoSource`.
 */
function loadProtoFiles(root: protobuf.Root, files: readonly string[]): void {
  const load = (path: string, weak: boolean): void => {
    if (root.files.includes(path)) return;
    root.files.push(path);
    const bundled = protobuf.common.get(path);
    if (bundled) {
      root.setOptions(bundled.options ?? {});
      root.addJSON(bundled.nested ?? {});
      return;
    }
    let source: string;
    try {
      source = protoSource(path);
    } catch (err) {
      if (weak) return;
      throw err;
    }
    (protobuf.parse as unknown as { filename: string }).filename = path; // named in protobufjs' syntax errors
    const parsed = protobuf.parse(source, root, { keepCase: true });
    for (const target of parsed.imports ?? []) load(root.resolvePath(path, target)!, false);
    for (const target of parsed.weakImports ?? []) load(root.resolvePath(path, target)!, true);
  };
  for (const file of files) load(root.resolvePath("", file)!, false);
}

const nonAscii = /[\u0080-\u{10ffff}]/u;

/**
 * A proto file's text for protobufjs. Envoy's protos have typographic quotes (’ “ ”) in a few comments; one
 * such character makes V8 hold the whole text as a two-byte string, and every name protobufjs slices from it
 * (messages, fields, enum values) is two-byte too. V8 keeps one internalized copy of each name, shared with
 * the same literals in our code ("STATIC", "name", "cluster", ...), so every text built with them — all the
 * generated YAML — became two-byte: twice the memory, and twice the bytes for the garbage collector to copy.
 * Such characters are turned into `?` when every one of them is in a `//` comment (which protobufjs keeps
 * as documentation only); otherwise the text is left as it is.
 */
export function protoSource(path: string): string {
  const text = readFileSync(path, "utf8");
  if (!nonAscii.test(text)) return text;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const at = line.search(nonAscii);
    if (at < 0) continue;
    const comment = line.indexOf("//");
    if (comment < 0 || comment > at || /["']/.test(line.slice(0, comment))) return text; // not (only) in a comment
    lines[i] = line.slice(0, comment) + line.slice(comment).replace(/[\u0080-\u{10ffff}]/gu, "?");
  }
  // slices of a two-byte string stay two-byte: a latin1 round trip of the (now ASCII) text makes a one-byte copy
  return Buffer.from(lines.join("\n"), "latin1").toString("latin1");
}

const typeCache = new Map<string, protobuf.Type>();

/** The message type of a `type.googleapis.com/...` URL or a full message name (cached). */
export function lookupMessage(typeUrlOrName: string): protobuf.Type {
  let t = typeCache.get(typeUrlOrName);
  if (!t) {
    const name = typeUrlOrName.slice(typeUrlOrName.lastIndexOf("/") + 1);
    t = envoyProtoRoot().lookupType(name);
    typeCache.set(typeUrlOrName, t);
  }
  return t;
}
