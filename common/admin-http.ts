/**
 * A small read-only admin HTTP server (loopback by default): GET pages by path, each a function that returns
 * a JSON value, a Prometheus text or a status line. Used by the proxy's and the control plane's admin APIs.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";

export type AdminReply =
  | { json: unknown; status?: number }
  | { text: string; status?: number; contentType?: string };

export type AdminPage = (req: IncomingMessage) => AdminReply | Promise<AdminReply>;

export interface AdminAddress {
  host: string;
  port: number;
}

export class AdminHttpServer {
  private constructor(
    private readonly server: Server,
    readonly address: AdminAddress,
  ) {}

  /** Serves `pages` (path → page) on `at`; "/" lists the pages. Resolves once listening. */
  static async start(at: AdminAddress, title: string, pages: Record<string, AdminPage>): Promise<AdminHttpServer> {
    const index: AdminPage = () => ({ text: `${title}: ${Object.keys(pages).sort().join(" ")}\n` });
    const server = createServer((req, res) => {
      serve(req, res, pages, index).catch((err: unknown) => {
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
    return new AdminHttpServer(server, { host: a.address, port: a.port });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

async function serve(req: IncomingMessage, res: ServerResponse, pages: Record<string, AdminPage>, index: AdminPage): Promise<void> {
  const path = (req.url ?? "/").split("?")[0]!;
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { "content-type": "text/plain", allow: "GET, HEAD" });
    res.end("only GET\n");
    return;
  }
  const page = path === "/" ? index : Object.hasOwn(pages, path) ? pages[path] : undefined;
  if (page === undefined) {
    res.writeHead(404, { "content-type": "text/plain" });
    res.end(`no admin page ${path}\n`);
    return;
  }
  const reply = await page(req);
  if ("json" in reply) {
    res.writeHead(reply.status ?? 200, { "content-type": "application/json" });
    res.end(`${JSON.stringify(reply.json, null, 2)}\n`);
  } else {
    res.writeHead(reply.status ?? 200, { "content-type": reply.contentType ?? "text/plain" });
    res.end(reply.text);
  }
}
