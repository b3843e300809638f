// Traffic captured from real sofa-rpc-node / dubbo-remoting peers (test/fixtures, see its index.json),
// replayed through the host and the filter: requests are routed by what the peers sent, rewritten so that
// hessian.js decodes each to the original plus the route attachment, and everything else passes untouched.
import { describe, expect, it } from "vitest";
import { Action } from "../../proxy/host/index.js";
import { fixtureBytes, type PeerFixture, readFixtureIndex } from "../../dev/fixtures.js";
import { decodeRequest, splitFrames } from "../../dev/dubbo-frames.js";
import { connect, metric, startFilter } from "./filter-vm.js";

type Capture = PeerFixture;

const index = readFixtureIndex();
const bytesOf = (c: Capture) => fixtureBytes(c.file);
const requests = index.peers.filter((c) => c.direction === "consumer-to-provider");
const responses = index.peers.filter((c) => c.direction === "provider-to-consumer");

const ATTACHMENT = "x-dubbo-mesh-cluster";
const CONFIG = {
  version: 1,
  randomSeed: 3,
  defaultCluster: "fallback",
  services: [
    {
      interface: "org.apache.dubbo.demo.*",
      group: "blue",
      defaultCluster: "blue-default",
      hashKey: { attachment: "user" },
      routes: [
        { name: "gray", match: { attachments: { "dubbo.tag": { exact: "gray" } } }, destinations: [{ cluster: "blue-gray" }] },
        { name: "users", match: { attachments: { user: { prefix: "u-" } } }, destinations: [{ cluster: "blue-users" }] },
        { name: "generic-hello", match: { method: { exact: "sayHello" }, attachments: { generic: { present: true } } }, destinations: [{ cluster: "blue-generic" }] },
        { name: "int-arg", match: { arguments: { "0": { exact: "7" } } }, destinations: [{ cluster: "blue-seven" }] },
      ],
    },
  ],
};

/** The cluster CONFIG gives a captured call, from the call's description in index.json. */
function expectedCluster(call: NonNullable<Capture["call"]>): string {
  if (call.group !== "blue") return "fallback";
  const props = call.requestProps;
  if (props["dubbo.tag"] === "gray") return "blue-gray";
  if (props.user?.startsWith("u-")) return "blue-users";
  const realMethod = call.method === "$invoke" ? call.args[0] : call.method;
  if (realMethod === "sayHello" && "generic" in props) return "blue-generic";
  if (String(call.args[0]) === "7") return "blue-seven";
  return "blue-default";
}

describe("traffic captured from sofa-rpc-node peers", () => {
  it("has captures of requests, responses and heartbeats to replay", () => {
    expect(requests.filter((c) => c.call !== undefined).length).toBeGreaterThanOrEqual(8);
    expect(responses.length).toBeGreaterThanOrEqual(8);
    expect(requests.some((c) => c.file.includes("heartbeat"))).toBe(true);
    // The configuration sends them to several clusters, through every kind of route.
    const clusters = new Set(requests.flatMap((c) => (c.call ? [expectedCluster(c.call)] : [])));
    expect([...clusters].sort()).toEqual(["blue-default", "blue-generic", "blue-gray", "blue-seven", "blue-users"]);
  });

  const stream = Buffer.concat(requests.map(bytesOf));

  it.each([1, 7, 1000, stream.length])("routes and rewrites every captured request, replayed in reads of %i bytes", async (chunk) => {
    const vm = await startFilter({ ...CONFIG, maxBodyBytes: 1 << 20 });
    const conn = connect(vm);
    const out: Buffer[] = [];
    for (let pos = 0; pos < stream.length; pos += chunk) {
      const r = conn.downstreamData(stream.subarray(pos, pos + chunk));
      expect(r.closeDownstream).toBe(false);
      if (r.action === Action.Pause) expect(r.forwarded.length).toBe(0);
      out.push(Buffer.from(r.forwarded));
    }
    const frames = splitFrames(Buffer.concat(out));
    expect(frames).toHaveLength(requests.length);
    frames.forEach((frame, i) => {
      const capture = requests[i];
      const original = bytesOf(capture);
      if (capture.call === undefined) {
        // Heartbeats pass byte for byte.
        expect(frame.equals(original)).toBe(true);
        return;
      }
      const before = decodeRequest(original);
      const after = decodeRequest(frame);
      expect(after, capture.file).toEqual({ ...before, attachments: { ...before.attachments, [ATTACHMENT]: expectedCluster(capture.call) } });
    });
    expect(metric(vm, "dubbo_mesh.heartbeats")).toBe(requests.filter((c) => c.call === undefined).length);
    expect(metric(vm, "dubbo_mesh.decode_errors")).toBe(0);
    expect(vm.traps).toBe(0);
  });

  it("passes captured responses upstream untouched and counts them by status", async () => {
    const vm = await startFilter(CONFIG);
    const conn = connect(vm);
    conn.downstreamData(bytesOf(requests[0]));
    const upstream = Buffer.concat(responses.map(bytesOf));
    const out: Buffer[] = [];
    for (let pos = 0; pos < upstream.length; pos += 333) out.push(Buffer.from(conn.upstreamData(upstream.subarray(pos, pos + 333)).forwarded));
    expect(Buffer.concat(out).equals(upstream)).toBe(true);
    // Expected counts from the captured headers: responses (not requests, not events) by status byte.
    const byStatus = new Map<number, number>();
    for (const f of responses.map(bytesOf)) {
      if ((f[2] & 0xa0) === 0) byStatus.set(f[3], (byStatus.get(f[3]) ?? 0) + 1);
    }
    expect(byStatus.size).toBeGreaterThanOrEqual(2);
    for (const [status, count] of byStatus) expect(metric(vm, `dubbo_mesh.responses.status.${status}`)).toBe(count);
  });
});
