/** One upstream address of a cluster, with its load, outlier and connection state. */
import type { EndpointConfig } from "./config.js";
import { formatHostPort } from "./config.js";
import type { ConnectionPool } from "./connection-pool.js";

export class Endpoint {
  readonly address: string;
  readonly host: string;
  readonly port: number;
  weight: number;
  labels: Record<string, string>;
  /** Requests in flight (sent or waiting for a connection). */
  active = 0;
  consecutiveFailures = 0;
  /** performance.now() until which the endpoint is ejected; 0 when not ejected. */
  ejectedUntil = 0;
  ejections = 0;
  requests = 0;
  failures = 0;
  pool!: ConnectionPool;

  constructor(cfg: EndpointConfig) {
    this.address = formatHostPort(cfg.address);
    this.host = cfg.address.host;
    this.port = cfg.address.port;
    this.weight = cfg.weight;
    this.labels = cfg.labels;
  }

  get ejected(): boolean {
    return this.ejectedUntil !== 0;
  }
}
