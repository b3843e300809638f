/**
 * The ADS server over TLS, and over mTLS where a client without a certificate the CA signed is refused.
 */
import * as grpc from "@grpc/grpc-js";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { AdsServer } from "../../control/xds/ads-server.js";
import { SnapshotCache } from "../../control/xds/snapshot.js";
import { XdsTypeUrl } from "../../control/xds/type-urls.js";
import { AdsTestClient } from "../support/ads-client.js";
import { makeTestCerts, type TestCerts } from "../support/test-certs.js";
import { clusterResource } from "../support/xds-resources.js";

let certs: TestCerts;
beforeAll(() => {
  certs = makeTestCerts();
});

const open: { server: AdsServer; clients: AdsTestClient[] }[] = [];
afterEach(async () => {
  for (const { server, clients } of open.splice(0)) {
    for (const c of clients) c.close();
    await server.stop();
  }
});

async function tlsServer(mtls: boolean) {
  const snapshot = new SnapshotCache();
  snapshot.update(XdsTypeUrl.cluster, [clusterResource("a")]);
  const server = new AdsServer(snapshot, {
    tls: { cert: certs.serverCert, key: certs.serverKey, ...(mtls ? { clientCa: certs.ca } : {}) },
  });
  const port = await server.start();
  const entry = { server, clients: [] as AdsTestClient[] };
  open.push(entry);
  const connect = (credentials: grpc.ChannelCredentials) => {
    const client = new AdsTestClient(`127.0.0.1:${port}`, credentials);
    entry.clients.push(client);
    return client;
  };
  return { server, port, connect };
}

describe("ADS over TLS", () => {
  it("serves a client that trusts the CA, and refuses plaintext", async () => {
    const { connect } = await tlsServer(false);
    const s = connect(grpc.credentials.createSsl(certs.ca)).sotw({ id: "tls" });
    s.subscribe(XdsTypeUrl.cluster);
    expect((await s.nextOf(XdsTypeUrl.cluster)).resources).toHaveLength(1);

    const plain = connect(grpc.credentials.createInsecure()).sotw({ id: "plain" });
    plain.subscribe(XdsTypeUrl.cluster);
    expect((await plain.responses.closed())?.code).toBe(grpc.status.UNAVAILABLE);
  });

  it("with a client CA (mTLS) serves a client with a signed certificate and refuses one without", async () => {
    const { connect, server } = await tlsServer(true);
    const withCert = connect(grpc.credentials.createSsl(certs.ca, certs.clientKey, certs.clientCert)).sotw({ id: "mtls" });
    withCert.subscribe(XdsTypeUrl.cluster);
    expect((await withCert.nextOf(XdsTypeUrl.cluster)).resources).toHaveLength(1);

    const without = connect(grpc.credentials.createSsl(certs.ca)).sotw({ id: "no-cert" });
    without.subscribe(XdsTypeUrl.cluster);
    expect((await without.responses.closed())?.code).toBe(grpc.status.UNAVAILABLE);
    expect(without.responses.all).toEqual([]);
    expect(server.status().streams.map((st) => st.node?.id)).toEqual(["mtls"]);
  });
});
