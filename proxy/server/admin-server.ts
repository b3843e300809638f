/**
 * The admin API (loopback by default): /stats (Prometheus text), /clusters and /config_dump (JSON),
 * /ready (200 while serving, 503 before start and while draining), /healthz (200 while the process runs),
 * /logs (the proxy's and the filter's recent log lines, JSON).
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import type { HostPort } from "./config.js";

export interface AdminSources {
  registry: Registry;
  clusters(): unknown;
  configDump(): unknown;
  ready(): boolean;
  logs(): unknown;
}

export class AdminServer {
  private constructor(
    private readonly server: Server,
    readonly address: HostPort,
  ) {}

  static async start(at: HostPort, src: AdminSources): Promise<AdminServer> {
    const server = createServer((req, res) => {
      handle(req, res, src).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end(`error: ${(err as Error).message}\n`);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(at.port, at.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const a = server.address() as AddressInfo;
    return new AdminServer(server, { host: a.address, port: a.port });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

async function handle(req: IncomingMessage, res: ServerResponse, src: AdminSources): Promise<void> {
  const path = (req.url ?? "/").split("?")[0];
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { "content-type": "text/plain", allow: "GET, HEAD" });
    res.end("only GET\n");
    return;
  }
  switch (path) {
    case "/stats":
    case "/stats/prometheus": {
      const text = await src.registry.metrics();
      res.writeHead(200, { "content-type": src.registry.contentType });
      res.end(text);
      return;
    }
    case "/clusters":
      return json(res, src.clusters());
    case "/config_dump":
      return json(res, src.configDump());
    case "/logs":
      return json(res, src.logs());
    case "/ready": {
      const ok = src.ready();
      res.writeHead(ok ? 200 : 503, { "content-type": "text/plain" });
      res.end(ok ? "LIVE\n" : "NOT READY\n");
      return;
    }
    case "/healthz":
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("OK\n");
      return;
    case "/":
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("dubbo-mesh proxy admin: /stats /clusters /config_dump /logs /ready /healthz\n");
      return;
    default:
      res.writeHead(404, { "content-type": "text/plain" });
      res.end(`no admin page ${path}\n`);
  }
}

function json(res: ServerResponse, value: unknown): void {
  res.writeHead(200, { "content-type": "application/json" });
  res.end(`${JSON.stringify(value, null, 2)}\n`);
}
