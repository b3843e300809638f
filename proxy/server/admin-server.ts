/**
 * The proxy's admin API (loopback by default), on common/admin-http.ts: /stats (Prometheus text, also at
 * /stats/prometheus), /clusters and /config_dump (JSON), /ready (200 while serving, 503 before start and while
 * draining), /healthz (200 while the process runs), /logs (the proxy's and the filter's recent log lines, JSON).
 */
import type { Registry } from "prom-client";
import { AdminHttpServer, type AdminPage } from "../../common/admin-http.js";
import type { HostPort } from "./config.js";

export interface AdminSources {
  registry: Registry;
  clusters(): unknown;
  configDump(): unknown;
  ready(): boolean;
  logs(): unknown;
}

export function startAdminServer(at: HostPort, src: AdminSources): Promise<AdminHttpServer> {
  const stats: AdminPage = async () => ({ text: await src.registry.metrics(), contentType: src.registry.contentType });
  return AdminHttpServer.start(at, "dubbo-mesh proxy admin", {
    "/stats": stats,
    "/stats/prometheus": stats,
    "/clusters": () => ({ json: src.clusters() }),
    "/config_dump": () => ({ json: src.configDump() }),
    "/logs": () => ({ json: src.logs() }),
    "/ready": () => (src.ready() ? { text: "LIVE\n" } : { text: "NOT READY\n", status: 503 }),
    "/healthz": () => ({ text: "OK\n" }),
  });
}
