/**
 * The disk cache: written after each ACK, read back by `loadCache`, and what a client started while the control
 * plane is unreachable does with it.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { AdsClient } from "../../proxy/xds/ads-client.js";
import { CACHE_FILE, cacheNotice, loadCache, saveCache } from "../../proxy/xds/xds-cache.js";
import { decodeResource, XdsType } from "../../proxy/xds/xds-resources.js";
import { freePort } from "../../dev/zookeeper.js";
import { recordedClient, versions } from "./client-harness.js";
import { dubboListener, edsCluster, loadAssignment } from "./envoy-fixtures.js";
import { ScriptedAdsServer } from "./scripted-ads-server.js";

const { cluster: CDS, listener: LDS, clusterLoadAssignment: EDS } = XdsType;

let server: ScriptedAdsServer | undefined;
let client: AdsClient | undefined;
const dirs: string[] = [];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "xds-cache-"));
  dirs.push(dir);
  return dir;
}

afterEach(async () => {
  await client?.close();
  await server?.stop();
  const violations = server?.violations() ?? [];
  client = undefined;
  server = undefined;
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  expect(violations).toEqual([]);
});

describe("xds cache", () => {
  it("is written after each ACK, holds only acknowledged resources, and a client started with the server down serves from it", async () => {
    const dir = await tempDir();
    server = await ScriptedAdsServer.start();
    const made = recordedClient({
      server: server.address,
      cacheDir: dir,
      validate: (typeUrl, resources) => (typeUrl === EDS && resources.some((r) => r.name === "a" && r.version === "bad") ? "a: rejected" : null),
    });
    client = made.client;
    await client.start();
    expect(made.events.cacheLoaded).toEqual([]); // nothing cached yet
    const stream = await server.stream(0);
    await stream.takeType(CDS);
    await stream.takeType(LDS);
    stream.sendDelta(CDS, [{ name: "a", version: "c1", resource: edsCluster("a") }]);
    stream.sendDelta(LDS, [{ name: "dubbo", version: "l1", resource: dubboListener("dubbo", "routes", "f.wasm") }]);
    await stream.takeType(CDS);
    await stream.takeType(EDS);
    stream.sendDelta(EDS, [{ name: "a", version: "e1", resource: loadAssignment("a", [20881]) }]);
    await stream.take((r) => r.type_url === EDS && r.response_nonce !== undefined && r.response_nonce !== "", "the EDS ACK");
    stream.sendDelta(EDS, [{ name: "a", version: "bad", resource: loadAssignment("a", [1]) }]);
    await stream.take((r) => r.type_url === EDS && r.error_detail !== undefined && r.error_detail !== null, "the EDS NACK");
    await vi.waitFor(() => expect(made.events.nacks).toHaveLength(1));
    await client.close(); // waits for the cache write in progress
    await server.stop();
    expect(made.events.cacheSaved.length).toBeGreaterThanOrEqual(1);
    expect(made.events.cacheSaved.every((e) => e.file === join(dir, CACHE_FILE))).toBe(true);
    const saved = (await loadCache(dir))!;
    expect(versions2(saved.types.get(EDS)!.resources)).toEqual({ a: "e1" }); // not the NACKed "bad"
    expect(versions2(saved.types.get(LDS)!.resources)).toEqual({ dubbo: "l1" });
    const files = await readdir(dir);
    expect(files).toEqual([CACHE_FILE]); // the temporary file was renamed over it

    const cache = (await loadCache(dir))!;
    expect(cache.node).toBe("test-node");
    expect(cache.savedAt.getTime()).toBeLessThanOrEqual(Date.now());
    expect(cache.types.get(CDS)!.resources.get("a")!.resource).toMatchObject({ name: "a", type: "EDS" });
    expect(cacheNotice(dir, cache)).toBe(`serving cached configuration from ${dir}, last acknowledged at ${cache.savedAt.toISOString()}`);

    // a new client, control plane unreachable: the cached state, announced, then retries
    const port = await freePort();
    const again = recordedClient({ server: `127.0.0.1:${port}`, cacheDir: dir });
    client = again.client;
    server = undefined;
    await client.start();
    expect(again.events.cacheLoaded).toEqual([{ dir, savedAt: cache.savedAt, message: cacheNotice(dir, cache) }]);
    expect(again.events.updates.map((u) => [u.typeUrl, u.source, [...u.resources.keys()]])).toEqual([
      [CDS, "cache", ["a"]],
      [EDS, "cache", ["a"]],
      [LDS, "cache", ["dubbo"]],
    ]);
    expect(versions(client, EDS)).toEqual({ a: "e1" });
    await vi.waitFor(() => expect(again.events.disconnected.length).toBeGreaterThanOrEqual(1));
    expect(versions(client, CDS)).toEqual({ a: "c1" });

    // the control plane comes up: the client offers the cached versions
    server = await ScriptedAdsServer.start({ port });
    const stream2 = await server.stream(0);
    expect((await stream2.takeType(CDS)).initial_resource_versions).toEqual({ a: "c1" });
    const eds = await stream2.takeType(EDS);
    expect([eds.resource_names_subscribe, eds.initial_resource_versions]).toEqual([["a"], { a: "e1" }]);
  });

  it("round-trips every resource's bytes and version", async () => {
    const dir = await tempDir();
    const bytes = new Uint8Array(loadAssignment("x", [1, 2]).value);
    const resource = decodeResource(EDS, bytes);
    const types = new Map([[EDS as string, { versionInfo: "7", resources: new Map([["x", { name: "x", version: "v1", resource, bytes }]]) }]]);
    const at = new Date("2026-12-04T10:00:00.000Z");
    await saveCache(dir, "n", at, types);
    const back = (await loadCache(dir))!;
    expect(back.savedAt).toEqual(at);
    expect(back.types.get(EDS)!.versionInfo).toBe("7");
    const x = back.types.get(EDS)!.resources.get("x")!;
    expect([x.version, Buffer.from(x.bytes).equals(Buffer.from(bytes)), x.resource]).toEqual(["v1", true, resource]);
  });

  it("is absent when there is no file, and names the file and the problem when it is not a cache", async () => {
    const dir = await tempDir();
    expect(await loadCache(dir)).toBeUndefined();
    const file = join(dir, CACHE_FILE);
    const cases: [string, RegExp][] = [
      ["{", /not JSON/],
      ['{"format":"other","version":1}', /not a dubbo-mesh-xds-cache file/],
      ['{"format":"dubbo-mesh-xds-cache","version":2,"savedAt":"2026-01-01T00:00:00Z","types":{}}', /format version 2, expected 1/],
      ['{"format":"dubbo-mesh-xds-cache","version":1,"savedAt":"2026-01-01T00:00:00Z","types":{"type.googleapis.com/x.Y":{"versionInfo":"","resources":[]}}}', /unknown type type.googleapis.com\/x.Y/],
      [
        `{"format":"dubbo-mesh-xds-cache","version":1,"savedAt":"2026-01-01T00:00:00Z","types":{"${EDS}":{"versionInfo":"","resources":[{"name":"a","version":"1","bytes":"////"}]}}}`,
        /resources\[0\] \(a\): a ClusterLoadAssignment that does not decode/,
      ],
    ];
    for (const [text, error] of cases) {
      await writeFile(file, text);
      const message = await loadCache(dir).then(
        () => "no error",
        (err: Error) => err.message,
      );
      expect(message).toMatch(error);
      expect(message.startsWith(`xds cache ${file}: `)).toBe(true);
    }
    // a client given such a cache warns and starts without it
    const made = recordedClient({ server: `127.0.0.1:${await freePort()}`, cacheDir: dir });
    client = made.client;
    await client.start();
    expect(made.events.warnings.map((w) => w.message)).toEqual([expect.stringMatching(/^xds cache .*resources\[0\] \(a\): a ClusterLoadAssignment that does not decode.*; starting without it$/)]);
    expect(made.events.cacheLoaded).toEqual([]);
    expect(await readFile(file, "utf8")).toContain('"bytes":"////"'); // left as it was
  });
});

function versions2(resources: ReadonlyMap<string, { version: string }>): Record<string, string> {
  return Object.fromEntries([...resources].map(([k, v]) => [k, v.version]));
}
