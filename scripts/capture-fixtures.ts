/**
 * Regenerates the codec's byte fixtures under test/fixtures/ (run: npx tsx scripts/capture-fixtures.ts):
 *
 *  - peer-*.bin: whole Dubbo frames captured from real calls between a sofa-rpc-node + dubbo-remoting
 *    consumer and provider on loopback, through a recording TCP pipe (requests with attachments via
 *    requestProps, responses with values, exceptions and errors, heartbeats);
 *  - hessian-*.bin: single Hessian 2 values written by hessian.js EncoderV2 (objects with class
 *    definitions, references, typed and untyped lists and maps, dates, every int/long/double form,
 *    long chunked strings and binaries, UTF-8 with surrogate pairs);
 *  - index.json: what each file holds and what the peers were asked to send (the tests' expectations
 *    come from here and from independent decoders, never from the codec under test).
 */
import { mkdirSync, writeFileSync, readdirSync, unlinkSync } from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import { join } from "node:path";
import { startConsumer, startProvider } from "../proxy/demo/dubbo-peers.js";
import { type FixtureIndex, fixturesDir, type HessianFixture, type PeerFixture } from "../dev/fixtures.js";
import { splitFrames } from "../dev/split-frames.js";

const require = createRequire(import.meta.url);
const hessian = require("hessian.js") as { EncoderV2: new () => { write(v: unknown): unknown; get(): Buffer } };
const java = require("js-to-java") as ((cls: string, v: unknown) => unknown) & Record<string, (...a: unknown[]) => unknown> & {
  array: ((cls: string, v: unknown) => unknown) & Record<string, (v: unknown) => unknown>;
};

const outDir = fixturesDir;

/** A TCP pipe in front of `target` recording each direction's bytes. */
async function recordingPipe(targetPort: number): Promise<{ port: number; up: Buffer[]; down: Buffer[]; close(): Promise<void> }> {
  const up: Buffer[] = [];
  const down: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, "127.0.0.1");
    sockets.add(client);
    sockets.add(upstream);
    client.on("data", (d: Buffer) => { up.push(Buffer.from(d)); upstream.write(d); });
    upstream.on("data", (d: Buffer) => { down.push(Buffer.from(d)); client.write(d); });
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
    client.on("error", () => {});
    upstream.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port, up, down,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function capturePeers(): Promise<PeerFixture[]> {
  const iface = "org.apache.dubbo.demo.DemoService";
  const version = "1.0.0";
  const group = "blue";
  const provider = await startProvider({
    interface: iface, version, group,
    methods: {
      async sayHello(name: string) { return `hello ${name}`; },
      async greet(name: string, times: number) { return { greeting: `hi ${name}`, times }; },
      async getUser(id: number) {
        return java("org.apache.dubbo.demo.User", { id: java.Long(id), name: "Ada", tags: ["a", "b"], manager: null });
      },
      async fail(reason: string) { throw new Error(`refused: ${reason}`); },
      async nothing() { return null; },
      async risky(what: string) {
        const err = new Error(`cannot ${what}`);
        err.name = "IllegalStateException";
        return err;
      },
      async echo(text: string) { return text; },
    },
  });
  const pipe = await recordingPipe(provider.port);
  const fixtures: PeerFixture[] = [];
  // Calls are sequential so each call's request and response are the next frames in each direction.
  const calls: Array<{ name: string; method: string; args: unknown[]; requestProps: Record<string, string>; description: string; consumerVersion?: string }> = [
    { name: "say-hello", method: "sayHello", args: ["bob"], requestProps: { "dubbo.tag": "gray" }, description: "one string argument, a dubbo.tag attachment; response: a string value" },
    {
      name: "greet-5-attachments", method: "greet", args: ["alice", 42],
      requestProps: { "dubbo.tag": "gray", user: "u-1001", timeout: "3000", "remote.application": "demo-consumer", traceid: "3f2a9c1e-77b0-4f7e-9a51-0c0ffee00001" },
      description: "two arguments (string, int), five requestProps attachments; response: a map value",
    },
    { name: "get-user", method: "getUser", args: [7], requestProps: {}, description: "an int argument; response: an object with a class definition" },
    { name: "fail", method: "fail", args: ["no"], requestProps: { user: "u-2" }, description: "the provider throws; response: status 80 (SERVER_ERROR) and the error message" },
    { name: "exception", method: "risky", args: ["divide"], requestProps: {}, description: "the provider returns an Error; response: OK status, flag 0 and a java.lang.Exception object with a class definition" },
    { name: "unicode", method: "echo", args: ["héllo wörld 世界 😀 — ünïcödé"], requestProps: { note: "ça va 😀" }, description: "UTF-8 with 2- and 3-byte characters and a surrogate pair in the argument and an attachment" },
    { name: "long-string", method: "echo", args: ["x".repeat(40000) + "😀"], requestProps: {}, description: "a 40002-unit argument: a chunked string ('R' chunk then final)" },
    { name: "missing-method", method: "noSuchMethod", args: [], requestProps: {}, description: "an unknown method, no arguments (empty descriptor); response: non-OK status with an error message" },
    { name: "generic-invoke", method: "$invoke", args: ["sayHello", ["java.lang.String"], ["bob"]], requestProps: { generic: "true" }, description: "a generic call: method $invoke, the real method is argument 0" },
  ];
  const consumer = await startConsumer({ address: `127.0.0.1:${pipe.port}`, interface: iface, version, group });
  for (const call of calls) {
    const upBefore = Buffer.concat(pipe.up).length;
    const downBefore = Buffer.concat(pipe.down).length;
    try {
      await consumer.invoke(call.method, call.args, { requestProps: call.requestProps });
    } catch {
      // error responses are part of the capture
    }
    await sleep(50);
    const req = splitFrames(Buffer.concat(pipe.up).subarray(upBefore));
    const res = splitFrames(Buffer.concat(pipe.down).subarray(downBefore));
    if (req.length !== 1 || res.length !== 1) throw new Error(`${call.name}: expected one request and one response, got ${req.length}/${res.length}`);
    const callInfo = { interface: iface, version, group, method: call.method, args: call.args, requestProps: call.requestProps };
    fixtures.push({ file: `peer-request-${call.name}.bin`, source: "peer", direction: "consumer-to-provider", description: `request: ${call.description}`, call: callInfo });
    fixtures.push({ file: `peer-response-${call.name}.bin`, source: "peer", direction: "provider-to-consumer", description: `response to ${call.method}: ${call.description}`, call: callInfo });
    writeFileSync(join(outDir, `peer-request-${call.name}.bin`), req[0]!);
    writeFileSync(join(outDir, `peer-response-${call.name}.bin`), res[0]!);
  }
  await consumer.close();

  // A consumer asking for a service version the provider does not have.
  {
    const other = await startConsumer({ address: `127.0.0.1:${pipe.port}`, interface: iface, version: "9.9.9", group });
    const upBefore = Buffer.concat(pipe.up).length;
    const downBefore = Buffer.concat(pipe.down).length;
    await other.invoke("sayHello", ["eve"], {}).catch(() => undefined);
    await sleep(50);
    const req = splitFrames(Buffer.concat(pipe.up).subarray(upBefore));
    const res = splitFrames(Buffer.concat(pipe.down).subarray(downBefore));
    const callInfo = { interface: iface, version: "9.9.9", group, method: "sayHello", args: ["eve"], requestProps: {} };
    writeFileSync(join(outDir, "peer-request-missing-service.bin"), req[0]!);
    writeFileSync(join(outDir, "peer-response-missing-service.bin"), res[0]!);
    fixtures.push({ file: "peer-request-missing-service.bin", source: "peer", direction: "consumer-to-provider", description: "request for a service version the provider does not have", call: callInfo });
    fixtures.push({ file: "peer-response-missing-service.bin", source: "peer", direction: "provider-to-consumer", description: "response: non-OK status, 'not found service' message", call: callInfo });
    await other.close();
  }

  // Heartbeat: dubbo-remoting's own heartbeat encoder on a raw connection; the provider answers.
  {
    const protocol = require("dubbo-remoting/lib/protocol") as { heartbeatEncode(id: number, hb: unknown, options: unknown): Buffer };
    const upBefore = Buffer.concat(pipe.up).length;
    const downBefore = Buffer.concat(pipe.down).length;
    const socket = net.connect(pipe.port, "127.0.0.1");
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    socket.write(protocol.heartbeatEncode(1234567, {}, { codecType: "hessian2" }));
    await sleep(200);
    socket.destroy();
    const req = splitFrames(Buffer.concat(pipe.up).subarray(upBefore));
    const res = splitFrames(Buffer.concat(pipe.down).subarray(downBefore));
    writeFileSync(join(outDir, "peer-heartbeat-request.bin"), req[0]!);
    writeFileSync(join(outDir, "peer-heartbeat-response.bin"), res[0]!);
    fixtures.push({ file: "peer-heartbeat-request.bin", source: "peer", direction: "consumer-to-provider", description: "heartbeat request written by dubbo-remoting (id 1234567)" });
    fixtures.push({ file: "peer-heartbeat-response.bin", source: "peer", direction: "provider-to-consumer", description: "the provider's heartbeat reply" });
  }

  // Last: a method returning null. The provider writes a bare Hessian null without a response flag,
  // which the sofa-rpc-node consumer itself cannot decode (it closes the connection).
  {
    const c = await startConsumer({ address: `127.0.0.1:${pipe.port}`, interface: iface, version, group, timeout: 1000 });
    const downBefore = Buffer.concat(pipe.down).length;
    await c.invoke("nothing", [], {}).catch(() => undefined);
    await sleep(50);
    const res = splitFrames(Buffer.concat(pipe.down).subarray(downBefore));
    writeFileSync(join(outDir, "peer-response-null-bare.bin"), res[0]!);
    fixtures.push({ file: "peer-response-null-bare.bin", source: "peer", direction: "provider-to-consumer", description: "response to a method returning null: OK status and a bare Hessian null, no response flag" });
    await c.close();
  }

  await pipe.close();
  await provider.close();
  return fixtures;
}

function encodeHessian(value: unknown): Buffer {
  const enc = new hessian.EncoderV2();
  enc.write(value);
  return enc.get();
}

function captureHessian(): HessianFixture[] {
  const user = (id: number, name: string) => java("com.example.User", { id, name, active: true });
  const shared = java("com.example.Address", { city: "Hangzhou", zip: "310000" });
  const values: Array<[string, string, unknown]> = [
    ["null", "null", null],
    ["true", "true", true],
    ["false", "false", false],
    ["int-compact", "int 1-byte form (0x80-0xbf)", 7],
    ["int-negative-compact", "int -16", -16],
    ["int-2byte", "int 2-byte form (0xc0-0xcf)", 2000],
    ["int-3byte", "int 3-byte form (0xd0-0xd7)", -200000],
    ["int-4byte", "int 'I' form", 2147483647],
    ["long-compact", "long 1-byte form (0xd8-0xef)", java.Long(5)],
    ["long-2byte", "long 2-byte form (0xf0-0xff)", java.Long(-2000)],
    ["long-3byte", "long 3-byte form (0x38-0x3f)", java.Long(200000)],
    ["long-4byte", "long 'Y' form", java.Long(-2000000000)],
    ["long-8byte", "long 'L' form", java.Long("9007199254740991")],
    ["double-zero", "double 0.0", java.double(0)],
    ["double-one", "double 1.0", java.double(1)],
    ["double-byte", "double byte form", java.double(-7)],
    ["double-short", "double short form", java.double(1000)],
    ["double-milli", "double int-milli form", java.double(12.25)],
    ["double-8byte", "double 'D' form", java.double(3.141592653589793)],
    ["date-ms", "date 'J' (milliseconds)", new Date(1700000000123)],
    ["date-minutes", "date 'K' (minutes)", new Date(1700000040000)],
    ["string-empty", "empty string", ""],
    ["string-short", "short string (0x00-0x1f)", "hello"],
    ["string-medium", "string of 0-1023 chars (0x30-0x33)", "m".repeat(600)],
    ["string-utf8", "2- and 3-byte UTF-8 and a surrogate pair", "héllo 世界 😀 end"],
    ["string-long-final", "string 'S' form (1024..32768 units)", "é".repeat(5000)],
    ["string-chunked", "chunked string: 'R' chunks then final, surrogate pair at a chunk edge", "a".repeat(32767) + "😀" + "b".repeat(40000)],
    ["binary-short", "binary 0-15 bytes", Buffer.from([1, 2, 3])],
    ["binary-medium", "binary 0-1023 bytes (0x34-0x37)", Buffer.alloc(700, 9)],
    ["binary-chunked", "binary chunks 'A' then final 'B'", Buffer.alloc(70000, 5)],
    ["list-untyped", "untyped list of mixed values", [1, "two", null, true, 4.5]],
    ["list-typed-int", "typed fixed list (int[])", java.array.int([1, 2, 3])],
    ["list-typed-string", "typed list of strings (java.util.ArrayList)", java("java.util.ArrayList", ["a", "b", "c", "d", "e", "f", "g", "h", "i"])],
    ["list-long", "long untyped list (> 7 elements)", Array.from({ length: 20 }, (_, i) => i)],
    ["map-untyped", "untyped map with string values", { a: "1", b: "2", "dubbo.tag": "gray" }],
    ["map-hashmap", "java.util.HashMap: written as an untyped map", java("java.util.HashMap", { k: "v", n: 1 })],
    ["map-typed", "typed map 'M' (com.alibaba.fastjson.JSONObject) of strings", java("com.alibaba.fastjson.JSONObject", { k: "v", "dubbo.tag": "gray" })],
    ["object-hashtable", "java.util.Hashtable: hessian.js writes it as an object with a class definition", java("java.util.Hashtable", { k: "v" })],
    ["list-typed-fixed", "typed fixed list 'V' (String[] of 10)", java.array("java.lang.String", Array.from({ length: 10 }, (_, i) => `s${i}`))],
    ["list-type-refs", "typed lists reusing a type: the second names it by type reference", [java.array.int([1, 2]), java.array.int([3]), java("com.alibaba.fastjson.JSONObject", { a: "b" }), java("com.alibaba.fastjson.JSONObject", { c: "d" })]],
    ["map-nested", "nested maps and lists", { outer: { inner: [1, { deep: "x" }] }, list: [[1], [2, 3]] }],
    ["object", "object with a class definition", user(1, "Ada")],
    ["objects-shared-class", "a list of objects reusing one class definition", [user(1, "Ada"), user(2, "Grace"), user(3, "Linus")]],
    ["object-refs", "the same object twice: the second is a back-reference 'Q'", java("com.example.Pair", { left: shared, right: shared })],
    ["object-nested", "objects inside objects with lists", java("com.example.Order", { id: java.Long(99), items: [java("com.example.Item", { sku: "x", qty: 2 }), java("com.example.Item", { sku: "y", qty: 1 })], owner: user(5, "Bob") })],
    ["exception", "a java.lang.Exception object as providers send them", java("java.lang.RuntimeException", { detailMessage: "boom", cause: null, stackTrace: java.array("java.lang.StackTraceElement", [java("java.lang.StackTraceElement", { declaringClass: "A", methodName: "m", fileName: "A.java", lineNumber: 3 })]) })],
  ];
  const fixtures: HessianFixture[] = [];
  for (const [name, description, value] of values) {
    const file = `hessian-${name}.bin`;
    writeFileSync(join(outDir, file), encodeHessian(value));
    fixtures.push({ file, source: "hessian.js", description });
  }
  return fixtures;
}

async function main(): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  for (const f of readdirSync(outDir)) if (f.endsWith(".bin")) unlinkSync(join(outDir, f));
  const peers = await capturePeers();
  const values = captureHessian();
  writeFileSync(join(outDir, "index.json"), JSON.stringify({ peers, hessian: values } satisfies FixtureIndex, null, 2) + "\n");
  process.stdout.write(`wrote ${peers.length} peer frames and ${values.length} hessian values to ${outDir}\n`);
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`capture-fixtures: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
