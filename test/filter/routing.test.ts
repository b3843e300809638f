// Routing through the host: every match kind, defaults, weights, deny, the Envoy filter state, the
// route attachment and the optional per-request host extension.
import { describe, expect, it } from "vitest";
import { LogLevel, WasmResult, type ForeignFunction, type WasmVm } from "../../proxy/host/index.js";
import { DEMO_SERVICE, decodeRequest, requestFrame, splitFrames, type RequestSpec } from "../../dev/dubbo-frames.js";
import { baseConfig, connect, DEFAULT_CLUSTER, FALLBACK_CLUSTER, metric, startFilter, V2_CLUSTER } from "./filter-vm.js";

const ATTACHMENT = "x-dubbo-mesh-cluster";

/** Sends one request on a new connection and answers the route attachment the filter wrote (undefined: none). */
function routeOf(vm: WasmVm, spec: RequestSpec): unknown {
  const r = connect(vm).downstreamData(requestFrame(spec));
  expect(r.closeDownstream).toBe(false);
  return decodeRequest(r.forwarded).attachments[ATTACHMENT];
}

/** A configuration of one service whose single route has the given match (to cluster "hit", default "miss"). */
function withMatch(match: unknown, service: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: 1,
    defaultCluster: "nothing",
    services: [{ interface: DEMO_SERVICE, defaultCluster: "miss", routes: [{ name: "r", match, destinations: [{ cluster: "hit" }] }], ...service }],
  };
}

describe("route matching", () => {
  it.each([
    ["method exact", { method: { exact: "sayHello" } }, { method: "sayHello" }, { method: "sayHelloX" }],
    ["method prefix", { method: { prefix: "get" } }, { method: "getUser" }, { method: "setUser" }],
    ["method suffix", { method: { suffix: "Async" } }, { method: "callAsync" }, { method: "call" }],
    ["method present", { method: { present: true } }, { method: "anything" }, null],
    ["attachment exact", { attachments: { "dubbo.tag": { exact: "gray" } } }, { attachments: { "dubbo.tag": "gray" } }, { attachments: { "dubbo.tag": "grey" } }],
    ["attachment prefix", { attachments: { user: { prefix: "vip-" } } }, { attachments: { user: "vip-1" } }, { attachments: { user: "v-1" } }],
    ["attachment suffix", { attachments: { user: { suffix: "@corp" } } }, { attachments: { user: "a@corp" } }, { attachments: { user: "a@corp.x" } }],
    ["attachment present", { attachments: { trace: { present: true } } }, { attachments: { trace: "" } }, { attachments: {} }],
    ["string argument exact", { arguments: { "0": { exact: "bob" } } }, { args: ["bob"] }, { args: ["bobby"] }],
    ["second argument prefix", { arguments: { "1": { prefix: "vip-" } } }, { args: ["a", "vip-7"] }, { args: ["vip-7", "a"] }],
    ["int argument as decimal", { arguments: { "0": { exact: "42" } } }, { args: [42], types: "I" }, { args: [43], types: "I" }],
    ["missing argument", { arguments: { "2": { present: true } } }, { args: ["a", "b", "c"] }, { args: ["a"] }],
    ["all conditions", { method: { exact: "sayHello" }, attachments: { "dubbo.tag": { exact: "gray" } } }, { method: "sayHello", attachments: { "dubbo.tag": "gray" } }, { method: "sayHello" }],
  ])("%s", async (_name, match, hit, miss) => {
    const vm = await startFilter(withMatch(match));
    expect(routeOf(vm, hit as RequestSpec)).toBe("hit");
    if (miss !== null) expect(routeOf(vm, miss as RequestSpec)).toBe("miss");
  });

  it("matches the real method of a generic call ($invoke: argument 0)", async () => {
    const vm = await startFilter(withMatch({ method: { exact: "sayHello" } }));
    const generic = { method: "$invoke", types: "Ljava/lang/String;[Ljava/lang/String;[Ljava/lang/Object;", args: ["sayHello", ["java.lang.String"], ["bob"]] };
    expect(routeOf(vm, generic)).toBe("hit");
    expect(routeOf(vm, { ...generic, args: ["greet", ["java.lang.String"], ["bob"]] })).toBe("miss");
  });

  it("picks services by interface (exact, prefix glob, *), version and group", async () => {
    const vm = await startFilter({
      version: 1,
      defaultCluster: "top",
      services: [
        { interface: DEMO_SERVICE, version: "2.0.0", defaultCluster: "demo-v2" },
        { interface: DEMO_SERVICE, group: "blue", defaultCluster: "demo-blue" },
        { interface: DEMO_SERVICE, version: "1.0.0", defaultCluster: "demo-v1" },
        { interface: "org.apache.dubbo.demo.*", defaultCluster: "demo-any" },
        { interface: "com.example.*", defaultCluster: "" },
      ],
    });
    expect(routeOf(vm, { version: "2.0.0" })).toBe("demo-v2");
    expect(routeOf(vm, { version: "3.0.0", attachments: { group: "blue" } })).toBe("demo-blue");
    expect(routeOf(vm, { version: "1.0.0" })).toBe("demo-v1");
    expect(routeOf(vm, { version: "3.0.0" })).toBe("demo-any");
    expect(routeOf(vm, { service: "org.apache.dubbo.demo.Other" })).toBe("demo-any");
    // A service with an empty default falls back to the top-level default.
    expect(routeOf(vm, { service: "com.example.Greeter" })).toBe("top");
    expect(routeOf(vm, { service: "net.other.Service" })).toBe("top");
  });

  it("takes the first matching route", async () => {
    const vm = await startFilter({
      version: 1,
      services: [
        {
          interface: "*",
          routes: [
            { name: "first", match: { method: { prefix: "say" } }, destinations: [{ cluster: "one" }] },
            { name: "second", match: { method: { exact: "sayHello" } }, destinations: [{ cluster: "two" }] },
            { name: "all", destinations: [{ cluster: "three" }] },
          ],
        },
      ],
    });
    expect(routeOf(vm, { method: "sayHello" })).toBe("one");
    expect(routeOf(vm, { method: "greet" })).toBe("three");
    expect(metric(vm, "dubbo_mesh.requests.service.org_apache_dubbo_demo_DemoService.method.sayHello.route.first")).toBe(1);
    expect(metric(vm, "dubbo_mesh.requests.service.org_apache_dubbo_demo_DemoService.method.greet.route.all")).toBe(1);
  });

  it("with no destination adds no attachment, counts it, and blanks one the client sent", async () => {
    const vm = await startFilter({ version: 1, services: [] });
    expect(routeOf(vm, {})).toBeUndefined();
    expect(routeOf(vm, { attachments: { [ATTACHMENT]: "client-choice" } })).toBe("");
    expect(metric(vm, "dubbo_mesh.no_destination")).toBe(2);
  });

  it("replaces a route attachment the client sent (a client cannot choose its cluster)", async () => {
    const vm = await startFilter(baseConfig());
    const r = connect(vm).downstreamData(requestFrame({ attachments: { [ATTACHMENT]: "outbound|1||evil", "dubbo.tag": "x" } }));
    const decoded = decodeRequest(r.forwarded);
    expect(decoded.attachments[ATTACHMENT]).toBe(DEFAULT_CLUSTER);
    expect(decoded.attachments["dubbo.tag"]).toBe("x");
  });

  it("is idempotent: a rewritten frame passed again comes out byte for byte the same", async () => {
    const vm = await startFilter(baseConfig());
    const once = Buffer.from(connect(vm).downstreamData(requestFrame({ id: 4, attachments: { "dubbo.tag": "gray" } })).forwarded);
    const twice = Buffer.from(connect(vm).downstreamData(once).forwarded);
    expect(twice.equals(once)).toBe(true);
    expect(decodeRequest(twice).attachments[ATTACHMENT]).toBe(V2_CLUSTER);
  });

  it("writes the attachment under the configured key", async () => {
    const config = baseConfig();
    config.routeAttachment = "mesh.cluster";
    const vm = await startFilter(config);
    const r = connect(vm).downstreamData(requestFrame({}));
    const attachments = decodeRequest(r.forwarded).attachments;
    expect(attachments["mesh.cluster"]).toBe(DEFAULT_CLUSTER);
    expect(attachments[ATTACHMENT]).toBeUndefined();
  });
});

describe("weighted destinations", () => {
  const split = (seed: number) => ({
    version: 1,
    randomSeed: seed,
    services: [{ interface: "*", routes: [{ name: "split", destinations: [{ cluster: "a", weight: 90 }, { cluster: "b", weight: 10 }, { cluster: "never", weight: 0 }] }] }],
  });

  async function choices(seed: number, n: number): Promise<string[]> {
    const vm = await startFilter(split(seed));
    const frames = Array.from({ length: n }, (_, i) => requestFrame({ id: i + 1 }));
    const r = connect(vm).downstreamData(Buffer.concat(frames));
    return splitFrames(r.forwarded).map((f) => String(decodeRequest(f).attachments[ATTACHMENT]));
  }

  it("splits by weight over a seeded sequence, reproducibly", async () => {
    const n = 2000;
    const seq = await choices(7, n);
    const a = seq.filter((c) => c === "a").length;
    const b = seq.filter((c) => c === "b").length;
    expect(a + b).toBe(n); // weight 0 is never chosen
    expect(a / n).toBeGreaterThan(0.87);
    expect(a / n).toBeLessThan(0.93);
    // Same seed, same sequence; another seed, another sequence.
    expect(await choices(7, n)).toEqual(seq);
    expect(await choices(8, n)).not.toEqual(seq);
  });
});

describe("deny", () => {
  const three = () => Buffer.concat([requestFrame({ id: 1 }), requestFrame({ id: 2, method: "deleteAll" }), requestFrame({ id: 3 })]);

  it("dubbo-proxy mode: marks the denied request for dubbo_proxy to answer; the others pass, the connection stays", async () => {
    const vm = await startFilter(baseConfig()); // rewrite on, no host extension (as in Envoy)
    const conn = connect(vm);
    const r = conn.downstreamData(three());
    expect(r.closeDownstream).toBe(false);
    const frames = splitFrames(r.forwarded).map((f) => decodeRequest(f));
    expect(frames.map((f) => f.id)).toEqual([1n, 2n, 3n]);
    expect(frames.map((f) => f.attachments[ATTACHMENT])).toEqual([DEFAULT_CLUSTER, "!denied:no-deletes", DEFAULT_CLUSTER]);
    expect(metric(vm, "dubbo_mesh.denied")).toBe(1);
    expect(metric(vm, "dubbo_mesh.denied.rule.no-deletes")).toBe(1);
    const line = vm.logs(LogLevel.Info).find((e) => e.message.includes("denied"));
    // Named by Envoy's connection id and the client address, as in access logs.
    expect(line?.message).toBe(
      `dubbo-mesh: connection ${conn.connectionId} from ${conn.source}: request 2 to org.apache.dubbo.demo.DemoService#deleteAll denied by rule 'no-deletes'; marked x-dubbo-mesh-cluster=!denied:no-deletes for dubbo_proxy to answer`,
    );
    // The connection goes on.
    expect(decodeRequest(conn.downstreamData(requestFrame({ id: 4 })).forwarded).id).toBe(4n);
  });

  it("a client cannot forge the mark away: its own route attachment is replaced by the mark", async () => {
    const vm = await startFilter(baseConfig());
    const r = connect(vm).downstreamData(requestFrame({ id: 5, method: "deleteAll", attachments: { [ATTACHMENT]: DEFAULT_CLUSTER } }));
    expect(decodeRequest(r.forwarded).attachments[ATTACHMENT]).toBe("!denied:no-deletes");
  });

  it("tcp mode (rewrite off): closes the downstream connection and says why; nothing of that read goes on", async () => {
    const vm = await startFilter({ ...baseConfig(), rewrite: false });
    const conn = connect(vm);
    const before = conn.downstreamData(requestFrame({ id: 9 }));
    expect(decodeRequest(before.forwarded).id).toBe(9n);
    const r = conn.downstreamData(three());
    expect(r.closeDownstream).toBe(true);
    expect(conn.closedByFilter).toBe(true);
    // Envoy applies the close after the call and passes nothing of a read of a closed connection.
    expect(r.forwarded.length).toBe(0);
    expect(metric(vm, "dubbo_mesh.denied")).toBe(1);
    expect(vm.logs(LogLevel.Info).find((e) => e.message.includes("denied"))?.message).toBe(
      `dubbo-mesh: connection ${conn.connectionId} from ${conn.source}: request 2 to org.apache.dubbo.demo.DemoService#deleteAll denied by rule 'no-deletes'; closing the downstream connection (tcp mode cannot answer a single request)`,
    );
    // Nothing more is processed on the closed connection.
    expect(conn.downstreamData(requestFrame({ id: 4 })).forwarded.length).toBe(0);
  });

  it("with the host extension: reports the deny (flag 4, the rule as route) and passes the frame; the host answers it", async () => {
    const flags: number[] = [];
    const routes: string[] = [];
    const vm = await startFilter(
      { ...baseConfig(), rewrite: false },
      {
        foreignFunctions: {
          "dubbo_mesh.route_request": (a) => {
            const b = Buffer.from(a);
            flags.push(b.readUInt32LE(12));
            const clusterLength = b.readUInt32LE(16);
            const routeAt = 20 + clusterLength;
            routes.push(b.subarray(routeAt + 4, routeAt + 4 + b.readUInt32LE(routeAt)).toString());
          },
        },
      },
    );
    const conn = connect(vm);
    const r = conn.downstreamData(three());
    expect(r.closeDownstream).toBe(false);
    expect(splitFrames(r.forwarded).map((f) => decodeRequest(f).id)).toEqual([1n, 2n, 3n]);
    expect(flags).toEqual([1, 1 | 4, 1]);
    expect(routes).toEqual(["default", "no-deletes", "default"]);
    expect(metric(vm, "dubbo_mesh.denied")).toBe(1);
    expect(vm.logs(LogLevel.Info).find((e) => e.message.includes("denied"))?.message).toMatch(/denied by rule 'no-deletes'; the host answers it with a Dubbo error$/);
  });
});

describe("Envoy per-connection routing (set_envoy_filter_state)", () => {
  it("sets envoy.tcp_proxy.cluster from the first request only", async () => {
    const vm = await startFilter(baseConfig());
    const conn = connect(vm);
    const first = conn.downstreamData(requestFrame({ id: 1, attachments: { "dubbo.tag": "gray" } }));
    expect(first.forwarded.length).toBeGreaterThan(0);
    expect(conn.filterState.get("envoy.tcp_proxy.cluster")).toBe(V2_CLUSTER);
    conn.downstreamData(requestFrame({ id: 2 }));
    expect(conn.filterState.get("envoy.tcp_proxy.cluster")).toBe(V2_CLUSTER);
    expect(metric(vm, "dubbo_mesh.filter_state_failures")).toBe(0);
  });

  it("logs a failed call and keeps the listener's cluster", async () => {
    // An Envoy whose factory refuses the value answers BadArgument: emulated by a validator that refuses all.
    const vm = await startFilter(baseConfig(), { filterStateKeys: { "envoy.tcp_proxy.cluster": () => false } });
    const conn = connect(vm);
    const r = conn.downstreamData(requestFrame({ id: 1 }));
    expect(decodeRequest(r.forwarded).attachments[ATTACHMENT]).toBe(DEFAULT_CLUSTER);
    expect(conn.filterState.has("envoy.tcp_proxy.cluster")).toBe(false);
    expect(metric(vm, "dubbo_mesh.filter_state_failures")).toBe(1);
    expect(vm.logs(LogLevel.Warn).map((e) => e.message).join("\n")).toMatch(
      /set_envoy_filter_state\(envoy\.tcp_proxy\.cluster=outbound\|20880\|\|demoservice\.1-0-0\.dubbo\) failed: BadArgument; the connection keeps the listener's configured cluster/,
    );
  });
});

describe("per-request host extension dubbo_mesh.route_request", () => {
  interface RouteReport {
    requestId: bigint;
    timeoutMs: number;
    flags: number;
    cluster: string;
    route: string;
    hashKey: string;
    service: string;
    method: string;
  }
  function parse(args: Uint8Array): RouteReport {
    const b = Buffer.from(args);
    let pos = 16;
    const str = () => {
      const n = b.readUInt32LE(pos);
      const s = b.subarray(pos + 4, pos + 4 + n).toString("utf8");
      pos += 4 + n;
      return s;
    };
    const head = { requestId: b.readBigUInt64LE(0), timeoutMs: b.readUInt32LE(8), flags: b.readUInt32LE(12) };
    const report = { ...head, cluster: str(), route: str(), hashKey: str(), service: str(), method: str() };
    expect(pos).toBe(b.length);
    return report;
  }

  it("reports each request in stream order with the contract's fields", async () => {
    const reports: RouteReport[] = [];
    const record: ForeignFunction = (args) => {
      reports.push(parse(args));
    };
    const vm = await startFilter(baseConfig(), { foreignFunctions: { "dubbo_mesh.route_request": record } });
    const conn = connect(vm);
    conn.downstreamData(
      Buffer.concat([
        requestFrame({ id: 11, attachments: { timeout: "3000", user: "alice", "dubbo.tag": "gray" } }),
        requestFrame({ id: 12, twoWay: false, method: "greet" }),
        // dubbo2.js sends the timeout as a number: a Hessian int.
        requestFrame({ id: 14, method: "greet", attachments: { timeout: 2500 } }),
      ]),
    );
    conn.downstreamData(requestFrame({ id: 13, service: "unknown.Service" }));
    expect(reports).toEqual([
      { requestId: 11n, timeoutMs: 3000, flags: 1, cluster: V2_CLUSTER, route: "gray", hashKey: "alice", service: DEMO_SERVICE, method: "sayHello" },
      { requestId: 12n, timeoutMs: 0, flags: 0, cluster: DEFAULT_CLUSTER, route: "default", hashKey: "", service: DEMO_SERVICE, method: "greet" },
      { requestId: 14n, timeoutMs: 2500, flags: 1, cluster: DEFAULT_CLUSTER, route: "default", hashKey: "", service: DEMO_SERVICE, method: "greet" },
      { requestId: 13n, timeoutMs: 0, flags: 1, cluster: FALLBACK_CLUSTER, route: "default", hashKey: "", service: "unknown.Service", method: "sayHello" },
    ]);
  });

  it("reports an argument as the hash key when the service asks for one", async () => {
    const reports: RouteReport[] = [];
    const config = { version: 1, services: [{ interface: "*", defaultCluster: "c", hashKey: { argument: 1 } }] };
    const vm = await startFilter(config, { foreignFunctions: { "dubbo_mesh.route_request": (a) => void reports.push(parse(a)) } });
    connect(vm).downstreamData(Buffer.concat([requestFrame({ id: 1, args: ["a", "key-1"] }), requestFrame({ id: 2, args: ["a", 99], types: "Ljava/lang/String;I" }), requestFrame({ id: 3, args: ["a"] })]));
    expect(reports.map((r) => r.hashKey)).toEqual(["key-1", "99", ""]);
  });

  it("flags a request with no destination", async () => {
    const reports: RouteReport[] = [];
    const vm = await startFilter({ version: 1, services: [] }, { foreignFunctions: { "dubbo_mesh.route_request": (a) => void reports.push(parse(a)) } });
    connect(vm).downstreamData(requestFrame({ id: 5 }));
    expect(reports.map((r) => [r.flags, r.cluster])).toEqual([[3, ""]]);
  });

  it("keeps calling after other failures, logging only the first ten", async () => {
    let calls = 0;
    const vm = await startFilter(baseConfig(), {
      foreignFunctions: {
        "dubbo_mesh.route_request": () => {
          calls++;
          return WasmResult.InternalFailure;
        },
      },
    });
    const r = connect(vm).downstreamData(Buffer.concat(Array.from({ length: 15 }, (_, i) => requestFrame({ id: i }))));
    expect(splitFrames(r.forwarded)).toHaveLength(15);
    expect(calls).toBe(15);
    const warnings = vm.logs(LogLevel.Warn).filter((e) => e.message === "dubbo-mesh: dubbo_mesh.route_request failed: InternalFailure");
    expect(warnings).toHaveLength(10);
  });

  it("stops calling after NotFound (as in Envoy) and routes on unchanged", async () => {
    let calls = 0;
    const vm = await startFilter(baseConfig(), {
      foreignFunctions: {
        "dubbo_mesh.route_request": () => {
          calls++;
          return WasmResult.NotFound;
        },
      },
    });
    for (let i = 1; i <= 3; i++) {
      const r = connect(vm).downstreamData(requestFrame({ id: i }));
      expect(decodeRequest(r.forwarded).attachments[ATTACHMENT]).toBe(DEFAULT_CLUSTER);
    }
    expect(calls).toBe(1);
  });
});
