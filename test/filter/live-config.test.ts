// A new plugin configuration reaches connections opened before it. The host reproduces Envoy: the new
// configuration gets a new root context in the same VM, the connection keeps the context it was created
// under (parented to the old root context), and the filter routes it by its plugin's newest accepted
// configuration: gray rule, weighted split, deny rules, hash key, the attachment written into each request.

import { describe, expect, it } from "vitest";
import type { Connection, ForeignFunction, WasmVm } from "../../proxy/host/index.js";
import { decodeRequest, requestFrame, type RequestSpec } from "../../dev/dubbo-frames.js";
import { baseConfig, connect, DEFAULT_CLUSTER, metric, startFilter, V1_CLUSTER, V2_CLUSTER } from "./filter-vm.js";

const ATTACHMENT = "x-dubbo-mesh-cluster";
type Config = ReturnType<typeof baseConfig>;
type Service = { routes: Array<{ name: string; destinations: Array<{ cluster: string; weight?: number }> }>; deny: unknown[]; hashKey?: unknown };
const service0 = (c: Config) => (c.services as Service[])[0]!;

let nextId = 1;
/** Sends one request on `conn`; the cluster named by the attachment the filter wrote. */
function send(conn: Connection, spec: RequestSpec): unknown {
  const r = conn.downstreamData(requestFrame({ id: nextId++, ...spec }));
  expect(r.closeDownstream).toBe(false);
  return decodeRequest(r.forwarded).attachments[ATTACHMENT];
}

const GRAY: RequestSpec = { method: "sayHello", attachments: { "dubbo.tag": "gray" } };

/** baseConfig with its gray route sent to `cluster`. */
function grayTo(cluster: string): Config {
  const c = baseConfig();
  service0(c).routes[0]!.destinations = [{ cluster, weight: 100 }];
  return c;
}

async function reconfigure(vm: WasmVm, config: unknown): Promise<void> {
  await vm.reconfigure({ pluginConfig: JSON.stringify(config) });
}

describe("a configuration change on an established connection", () => {
  it("moves the gray rule from v2 to v1 and back, on the same connection, in the same VM", async () => {
    const vm = await startFilter(grayTo(V2_CLUSTER));
    const conn = connect(vm);
    expect(send(conn, GRAY)).toBe(V2_CLUSTER);

    await reconfigure(vm, grayTo(V1_CLUSTER));
    expect(vm.generation).toBe(1);
    expect(conn.rootContextId).not.toBe(vm.rootContextId); // still parented to the old root context
    expect(send(conn, GRAY)).toBe(V1_CLUSTER);
    expect(conn.filterState.get("wasm.dubbo_mesh.cluster")).toBe(V1_CLUSTER);

    // A distinct configuration (its revision) reaches the connection at once.
    await reconfigure(vm, { ...grayTo(V2_CLUSTER), revision: "3" });
    expect(send(conn, GRAY)).toBe(V2_CLUSTER);
  });

  it("rolls back to a configuration still held by connections once a new connection uses it", async () => {
    const vm = await startFilter(grayTo(V2_CLUSTER));
    const conn = connect(vm);
    const rootA = conn.rootContextId;
    await reconfigure(vm, grayTo(V1_CLUSTER));
    expect(send(conn, GRAY)).toBe(V1_CLUSTER);
    // Back to the first configuration: Envoy hands its root context back (held by `conn`) with no
    // proxy_on_configure, so the module learns of it only from the next connection created under it.
    await reconfigure(vm, grayTo(V2_CLUSTER));
    expect(vm.rootContextId).toBe(rootA);
    expect(send(conn, GRAY)).toBe(V1_CLUSTER);
    const fresh = connect(vm);
    expect(send(fresh, GRAY)).toBe(V2_CLUSTER);
    expect(send(conn, GRAY)).toBe(V2_CLUSTER);
  });

  it("follows a changed weighted split", async () => {
    const split = (v1: number, v2: number): Config => {
      const c = baseConfig();
      service0(c).routes.push({ name: "split", destinations: [{ cluster: V1_CLUSTER, weight: v1 }, { cluster: V2_CLUSTER, weight: v2 }] });
      return c;
    };
    const vm = await startFilter(split(100, 0));
    const conn = connect(vm);
    const count = (): number => {
      let v2 = 0;
      for (let i = 0; i < 400; i++) if (send(conn, { method: "greet" }) === V2_CLUSTER) v2++;
      return v2;
    };
    expect(count()).toBe(0);
    await reconfigure(vm, split(0, 100));
    expect(count()).toBe(400);
    await reconfigure(vm, split(50, 50));
    const half = count();
    expect(half).toBeGreaterThan(150);
    expect(half).toBeLessThan(250);
  });

  it("applies a deny rule added after the connection opened", async () => {
    const open = baseConfig();
    service0(open).deny = [];
    const vm = await startFilter(open);
    const conn = connect(vm);
    expect(send(conn, { method: "deleteAll" })).toBe(DEFAULT_CLUSTER);

    await reconfigure(vm, baseConfig()); // deny: no-deletes
    // dubbo-proxy mode: the request is marked for dubbo_proxy to answer, and the connection stays open
    expect(send(conn, { method: "deleteAll" })).toBe("!denied:no-deletes");
    expect(metric(vm, "dubbo_mesh.denied.rule.no-deletes")).toBe(1);
    expect(send(conn, { method: "sayHello" })).not.toMatch(/^!denied:/);
  });

  it("reports the new hash key to the host extension", async () => {
    const keys: string[] = [];
    const record: ForeignFunction = (args) => {
      const b = Buffer.from(args);
      let pos = 16;
      const str = () => {
        const n = b.readUInt32LE(pos);
        const s = b.subarray(pos + 4, pos + 4 + n).toString("utf8");
        pos += 4 + n;
        return s;
      };
      str(); // cluster
      str(); // route
      keys.push(str());
    };
    const vm = await startFilter(baseConfig(), { foreignFunctions: { "dubbo_mesh.route_request": record } });
    const conn = connect(vm);
    const spec: RequestSpec = { method: "greet", args: ["arg-0"], types: "Ljava/lang/String;", attachments: { user: "alice" } };
    send(conn, spec);
    const byArgument = baseConfig();
    service0(byArgument).hashKey = { argument: 0 };
    await reconfigure(vm, byArgument);
    send(conn, spec);
    expect(keys).toEqual(["alice", "arg-0"]);
  });

  it("keeps the last accepted configuration when a new one is rejected", async () => {
    const vm = await startFilter(grayTo(V2_CLUSTER));
    const conn = connect(vm);
    await expect(vm.reconfigure({ pluginConfig: JSON.stringify({ ...grayTo(V1_CLUSTER), version: 2 }) })).rejects.toThrow(/version: expected 1/);
    expect(send(conn, GRAY)).toBe(V2_CLUSTER);
    expect(send(connect(vm), GRAY)).toBe(V2_CLUSTER);
  });

  it("does not mix two plugins (another root_id) of one VM", async () => {
    const vm = await startFilter(grayTo(V2_CLUSTER));
    const first = connect(vm);
    await vm.reconfigure({ rootId: "other", pluginConfig: JSON.stringify(grayTo(V1_CLUSTER)) });
    const second = connect(vm);
    expect(vm.generation).toBe(1);
    expect(send(first, GRAY)).toBe(V2_CLUSTER);
    expect(send(second, GRAY)).toBe(V1_CLUSTER);
    // A newer configuration of the first plugin reaches its connection, not the other plugin's.
    await vm.reconfigure({ rootId: "dubbo_mesh", pluginName: "dubbo_mesh", pluginConfig: JSON.stringify({ ...grayTo(DEFAULT_CLUSTER), revision: "2" }) });
    expect(send(first, GRAY)).toBe(DEFAULT_CLUSTER);
    expect(send(second, GRAY)).toBe(V1_CLUSTER);
  });
});
