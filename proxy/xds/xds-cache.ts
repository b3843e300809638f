/**
 * The disk cache of the last acknowledged xDS resources: one JSON file, `DIR/xds-cache.json`, replaced
 * atomically (written to a temporary file in DIR, then renamed over the old one), so a reader sees either the
 * old or the new file, never a torn one.
 *
 * Format (version 1):
 *
 *   {
 *     "format": "dubbo-mesh-xds-cache", "version": 1,
 *     "savedAt": "2026-12-04T19:00:00.000Z",        // when the last ACKed response was applied
 *     "node": "dubbo-mesh-proxy~host~123",
 *     "types": {
 *       "type.googleapis.com/envoy.config.cluster.v3.Cluster": {
 *         "versionInfo": "7",                      // SotW: the type's last ACKed version_info ("" over Delta)
 *         "resources": [ {"name": "...", "version": "...", "bytes": "<base64 of the protobuf encoding>"} ]
 *       }, ...
 *     }
 *   }
 *
 * The resources are kept as their protobuf encoding, so loading decodes them with the same Envoy protos as a
 * response does; an unknown type, a format version other than 1 or bytes that do not decode make `loadCache`
 * throw an error naming the file and what was wrong.
 */
import { mkdir, open, readFile, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { decodeResource, XDS_TYPES, type XdsResource } from "./xds-resources.js";

export const CACHE_FILE = "xds-cache.json";
const FORMAT = "dubbo-mesh-xds-cache";
const VERSION = 1;

/** What the client keeps per type, and what the cache holds. */
export interface TypeState {
  /** SotW: the last ACKed `version_info` of the type; "" over Delta or before any ACK. */
  versionInfo: string;
  /** name → resource. */
  resources: Map<string, XdsResource>;
}

export interface CachedConfiguration {
  /** the file read */
  file: string;
  /** when the last acknowledged response was applied */
  savedAt: Date;
  node: string;
  types: Map<string, TypeState>;
}

interface CacheFile {
  format: string;
  version: number;
  savedAt: string;
  node: string;
  types: Record<string, { versionInfo: string; resources: { name: string; version: string; bytes: string }[] }>;
}

/** Writes `types` to DIR/xds-cache.json atomically (DIR is created when missing). */
export async function saveCache(dir: string, node: string, savedAt: Date, types: ReadonlyMap<string, TypeState>): Promise<void> {
  const body: CacheFile = { format: FORMAT, version: VERSION, savedAt: savedAt.toISOString(), node, types: {} };
  for (const [typeUrl, state] of types) {
    body.types[typeUrl] = {
      versionInfo: state.versionInfo,
      resources: [...state.resources.values()].map((r) => ({ name: r.name, version: r.version, bytes: Buffer.from(r.bytes).toString("base64") })),
    };
  }
  await mkdir(dir, { recursive: true });
  const file = join(dir, CACHE_FILE);
  const temp = join(dir, `.${CACHE_FILE}.${process.pid}.tmp`);
  const handle = await open(temp, "w");
  try {
    await handle.writeFile(JSON.stringify(body));
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, file);
  } catch (err) {
    await unlink(temp).catch(() => {});
    throw err;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Reads DIR/xds-cache.json: undefined when there is none; throws an error naming the file and the problem when
 * it is not a cache this code wrote (bad JSON, another format or version, an unknown type, undecodable bytes).
 */
export async function loadCache(dir: string): Promise<CachedConfiguration | undefined> {
  const file = join(dir, CACHE_FILE);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new Error(`xds cache ${file}: ${(err as Error).message}`, { cause: err });
  }
  const fail = (what: string): never => {
    throw new Error(`xds cache ${file}: ${what}`);
  };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    return fail(`not JSON (${(err as Error).message})`);
  }
  if (!isObject(body) || body["format"] !== FORMAT) return fail(`not a ${FORMAT} file`);
  if (body["version"] !== VERSION) return fail(`format version ${JSON.stringify(body["version"])}, expected ${VERSION}`);
  const savedAt = new Date(typeof body["savedAt"] === "string" ? body["savedAt"] : NaN);
  if (Number.isNaN(savedAt.getTime())) fail(`savedAt: expected an ISO date, got ${JSON.stringify(body["savedAt"])}`);
  if (!isObject(body["types"])) return fail("types: expected an object");
  const types = new Map<string, TypeState>();
  for (const [typeUrl, entry] of Object.entries(body["types"])) {
    if (!(XDS_TYPES as readonly string[]).includes(typeUrl)) fail(`types: unknown type ${typeUrl}`);
    if (!isObject(entry) || typeof entry["versionInfo"] !== "string" || !Array.isArray(entry["resources"])) {
      fail(`types["${typeUrl}"]: expected {versionInfo: string, resources: [...]}`);
    }
    const state: TypeState = { versionInfo: (entry as { versionInfo: string }).versionInfo, resources: new Map() };
    for (const [i, r] of (entry as { resources: unknown[] }).resources.entries()) {
      const at = `types["${typeUrl}"].resources[${i}]`;
      if (!isObject(r) || typeof r["name"] !== "string" || typeof r["version"] !== "string" || typeof r["bytes"] !== "string") {
        return fail(`${at}: expected {name, version, bytes} strings`);
      }
      const bytes = new Uint8Array(Buffer.from(r["bytes"], "base64"));
      let resource: Record<string, unknown>;
      try {
        resource = decodeResource(typeUrl, bytes);
      } catch (err) {
        return fail(`${at} (${r["name"]}): ${(err as Error).message}`);
      }
      state.resources.set(r["name"], { name: r["name"], version: r["version"], resource, bytes });
    }
    types.set(typeUrl, state);
  }
  return { file, savedAt, node: typeof body["node"] === "string" ? body["node"] : "", types };
}

/** The line a proxy prints when it serves from the cache. */
export function cacheNotice(dir: string, cache: CachedConfiguration): string {
  return `serving cached configuration from ${dir}, last acknowledged at ${cache.savedAt.toISOString()}`;
}
