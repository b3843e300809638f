// The real-peer helpers other suites reuse (test/support/dubbo-peers.ts): loopback binding, calls with
// attachments, errors, and a clean stop.
import net from "node:net";
import { describe, expect, it } from "vitest";
import { startConsumer, startProvider } from "../support/dubbo-peers.js";

describe("dubbo peers", () => {
  it("serve a call with attachments on 127.0.0.1 and stop cleanly", async () => {
    const handlersBefore = process.listenerCount("uncaughtException");
    const provider = await startProvider({
      interface: "com.example.Greeter", version: "2.0.0", group: "g",
      methods: {
        async sayHello(name: string) { return `hello ${name}`; },
        async fail() { throw new Error("nope"); },
      },
    });
    expect(provider.address).toBe(`127.0.0.1:${provider.port}`);
    const consumer = await startConsumer({ address: provider.address, interface: "com.example.Greeter", version: "2.0.0", group: "g" });
    try {
      await expect(consumer.invoke("sayHello", ["ann"], { requestProps: { "dubbo.tag": "gray" } })).resolves.toBe("hello ann");
      await expect(consumer.invoke("fail", [])).rejects.toThrow(/nope/);
      await expect(consumer.invoke("missing", [])).rejects.toThrow(/Can not find method/);
      expect(provider.received[0]).toMatchObject({ method: "sayHello", args: ["ann"], attachments: { "dubbo.tag": "gray", group: "g", version: "2.0.0" } });
      expect(process.listenerCount("uncaughtException")).toBe(handlersBefore); // sofa-rpc-node's process-wide handler was removed
    } finally {
      await consumer.close();
      await provider.close();
    }
    // Closed: nothing listens on the port any more.
    await expect(new Promise((resolve, reject) => {
      const s = net.connect(provider.port, "127.0.0.1", () => { s.destroy(); resolve("connected"); });
      s.on("error", reject);
    })).rejects.toThrow(/ECONNREFUSED/);
  });
});
