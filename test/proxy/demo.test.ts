/** The demo (`npm start`) run briefly on free ports, and the bundled example configurations. */
import { join } from "node:path";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { packageRoot } from "../../common/paths.js";
import { loadPeers, parseDemoArgs, runDemo } from "../../proxy/demo/cli.js";
import { ProxyServer } from "../../proxy/server/proxy-server.js";

function collector() {
  let text = "";
  const stream = new Writable({
    write(chunk, _enc, cb) {
      text += String(chunk);
      cb();
    },
  });
  return { stream, text: () => text };
}

describe("dubbo-mesh demo", () => {
  it("runs providers, the bundled proxy config and a consumer, and shows where requests go", async () => {
    const out = collector();
    const counts = await runDemo({ durationSeconds: 2.5, freePorts: true, concurrency: 4, tty: false }, out.stream);
    const [split, greet, gray, deny] = counts.rows;
    expect(split.v1 + split.v2).toBeGreaterThan(100);
    expect(split.v1).toBeGreaterThan(split.v2 * 3);
    expect(split.v2).toBeGreaterThan(0);
    expect(split.errors).toBe(0);
    expect(greet).toMatchObject({ v2: 0, errors: 0 });
    expect(greet.v1).toBeGreaterThan(0);
    expect(gray).toMatchObject({ v1: 0, errors: 0 });
    expect(gray.v2).toBeGreaterThan(0);
    expect(deny).toMatchObject({ v1: 0, v2: 0 });
    expect(deny.errors).toBeGreaterThan(0);
    const text = out.text();
    expect(text).toMatch(/^dubbo-mesh demo: providers org\.apache\.dubbo\.demo\.DemoService:1\.0\.0 v1 on 127\.0\.0\.1:\d+, v2 on 127\.0\.0\.1:\d+/);
    expect(text).toMatch(/\nt=1s total=\d+ \| sayHello: v1=\d+ v2=\d+ errors=0 \| greet: v1=\d+ v2=0 errors=0/);
    expect(text).toMatch(/calls; the 90\/10 split sent \d+\.\d% to v1/);
    expect(text).not.toContain("\x1b["); // plain lines when not a terminal
  });

  it("stops after --requests N", async () => {
    const out = collector();
    const counts = await runDemo({ requests: 40, freePorts: true, concurrency: 2, tty: true }, out.stream);
    expect(counts.total).toBe(40);
  });

  it("rejects bad arguments", () => {
    expect(() => parseDemoArgs(["--duration", "x"])).toThrow("--duration: expected a number >= 0.1, got 'x'");
    expect(() => parseDemoArgs(["--requests", "0"])).toThrow(/--requests: expected an integer 1\.\./);
    expect(() => parseDemoArgs(["--bogus"])).toThrow("Unknown option '--bogus'");
    expect(() => parseDemoArgs(["--free-ports=yes"])).toThrow(/--free-ports/);
    expect(parseDemoArgs(["--duration", "2", "--requests", "5", "--free-ports"])).toEqual({ durationSeconds: 2, requests: 5, freePorts: true, concurrency: 4 });
  });

  it("says how to install its peers when a production install left them out", async () => {
    const missing = Object.assign(new Error("Cannot find module 'sofa-rpc-node'\nRequire stack: ..."), { code: "MODULE_NOT_FOUND" });
    await expect(loadPeers(() => Promise.reject(missing))).rejects.toThrow(
      "the demo needs the packages sofa-rpc-node and dubbo-remoting, which a production install leaves out (Cannot find module 'sofa-rpc-node'); " +
        "install them with npm install --include=dev, or run npm ci in a checkout",
    );
    const other = new Error("boom");
    await expect(loadPeers(() => Promise.reject(other))).rejects.toBe(other);
    expect(typeof (await loadPeers()).startProvider).toBe("function");
  });
});

describe("bundled example configurations", () => {
  for (const file of ["proxy.yaml", "proxy-inline.yaml"]) {
    it(`examples/${file} starts and the filter accepts its plugin configuration`, async () => {
      const proxy = await ProxyServer.start({
        configPath: join(packageRoot, "examples", file),
        listen: { host: "127.0.0.1", port: 0 },
        admin: null,
        watch: false,
        log: () => undefined,
      });
      try {
        const dump = proxy.configDump() as { filter: { pluginConfiguration: { services: { interface: string }[] } }; clusters: { name: string }[] };
        expect(dump.filter.pluginConfiguration.services[0].interface).toBe("org.apache.dubbo.demo.DemoService");
        expect(dump.clusters.length).toBeGreaterThanOrEqual(2);
        expect(proxy.filterVm.logs().some((l) => /configured 1 service/.test(l.message))).toBe(true);
      } finally {
        await proxy.close();
      }
    });
  }
});
