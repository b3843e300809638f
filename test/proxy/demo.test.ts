/** The demo (`npm start`) run briefly on free ports, and the bundled example configurations. */
import { join } from "node:path";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { packageRoot } from "../../common/paths.js";
import { checkPeers, parseDemoArgs } from "../../proxy/demo/cli.js";
import { runDemo } from "../../proxy/demo/demo-chain.js";
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
  it("runs the chain (registry, control plane, xDS, proxy, peers) and shows established connections following rules edits", async () => {
    const out = collector();
    const counts = await runDemo({ durationSeconds: 7, editEverySeconds: 3, freePorts: true, concurrency: 4, tty: false }, out.stream);
    const [split, greet, gray, deny] = counts.rows;
    expect(split.v1 + split.v2).toBeGreaterThan(100);
    expect(split.errors).toBe(0);
    expect(greet).toMatchObject({ v2: 0, errors: 0 });
    expect(greet.v1).toBeGreaterThan(0);
    expect(gray).toMatchObject({ v1: 0, errors: 0 });
    expect(gray.v2).toBeGreaterThan(0);
    // denied calls fail one by one; the consumer's one connection goes on
    expect(deny).toMatchObject({ v1: 0, v2: 0 });
    expect(deny.errors).toBeGreaterThan(0);
    // the split flipped after 3 s: the seconds under 90/10 send most calls to v1, those under 10/90 to v2,
    // all on the consumer's one established connection (a second or two to take effect is allowed)
    const settled = counts.seconds.filter((s, i) => i > 0 && counts.seconds[i - 1]!.splitV1Weight === s.splitV1Weight && s.v1 + s.v2 > 20);
    const under = (w: number) => settled.filter((s) => s.splitV1Weight === w);
    expect(under(90).length).toBeGreaterThan(0);
    expect(under(10).length).toBeGreaterThan(0);
    for (const s of under(90)) expect(s.v1).toBeGreaterThan(s.v2);
    for (const s of under(10)) expect(s.v2).toBeGreaterThan(s.v1);
    expect(counts.peakTreeRss).toBeGreaterThan(0);
    const text = out.text();
    expect(text).toMatch(/^dubbo-mesh demo: org\.apache\.dubbo\.demo\.DemoService:1\.0\.0 providers v1 on 127\.0\.0\.1:\d+, v2 on 127\.0\.0\.1:\d+/);
    expect(text).toMatch(/\n {2}rules edited: split v1 90\/10 → 10\/90\n/);
    expect(text).toMatch(/\nt=1s calls\/s=\d+ split=90\/10 tree=\d+ MB \| sayHello: v1=\d+ v2=\d+ errors=0 \| greet: v1=\d+ v2=0 errors=0/);
    expect(text).not.toContain("\x1b["); // plain lines when not a terminal
  });

  it("stops after --requests N", async () => {
    const out = collector();
    const counts = await runDemo({ requests: 40, freePorts: true, concurrency: 2, tty: true }, out.stream);
    expect(counts.total).toBeGreaterThanOrEqual(40); // counted per second: the last second's calls all count
  });

  it("rejects bad arguments", () => {
    expect(() => parseDemoArgs(["--duration", "x"])).toThrow("--duration: expected a number >= 0.1, got 'x'");
    expect(() => parseDemoArgs(["--requests", "0"])).toThrow(/--requests: expected an integer 1\.\./);
    expect(() => parseDemoArgs(["--bogus"])).toThrow("Unknown option '--bogus'");
    expect(() => parseDemoArgs(["--free-ports=yes"])).toThrow(/--free-ports/);
    expect(parseDemoArgs(["--duration", "2", "--requests", "5", "--free-ports", "--edit-every", "5"])).toEqual({
      durationSeconds: 2,
      requests: 5,
      freePorts: true,
      concurrency: 4,
      editEverySeconds: 5,
    });
  });

  it("says how to install its peers when a production install left them out", () => {
    const missing = () => {
      throw new Error("Cannot find module 'sofa-rpc-node'\nRequire stack: ...");
    };
    expect(() => checkPeers(missing)).toThrow(
      "the demo needs the packages sofa-rpc-node and dubbo-remoting, which a production install leaves out (Cannot find module 'sofa-rpc-node'); " +
        "install them with npm install --include=dev, or run npm ci in a checkout",
    );
    expect(() => checkPeers()).not.toThrow();
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
