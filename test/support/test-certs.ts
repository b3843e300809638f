/**
 * Throwaway TLS material for tests, made with the `openssl` command: a CA, a server certificate for
 * localhost/127.0.0.1 and a client certificate, both signed by the CA (P-256 keys, valid one day).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestCerts {
  ca: Buffer;
  serverCert: Buffer;
  serverKey: Buffer;
  clientCert: Buffer;
  clientKey: Buffer;
}

export function makeTestCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), "dubbo-mesh-certs-"));
  const at = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  const newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  try {
    openssl("req", "-x509", ...newKey, "-keyout", at("ca.key"), "-out", at("ca.crt"), "-days", "1", "-subj", "/CN=dubbo-mesh test CA");
    const signed = (name: string, subject: string, extensions: string) => {
      openssl("req", ...newKey, "-keyout", at(`${name}.key`), "-out", at(`${name}.csr`), "-subj", subject);
      writeFileSync(at(`${name}.ext`), extensions);
      openssl(
        "x509", "-req", "-in", at(`${name}.csr`), "-CA", at("ca.crt"), "-CAkey", at("ca.key"), "-CAcreateserial",
        "-out", at(`${name}.crt`), "-days", "1", "-extfile", at(`${name}.ext`),
      );
    };
    signed("server", "/CN=localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
    signed("client", "/CN=test-envoy", "extendedKeyUsage=clientAuth\n");
    return {
      ca: readFileSync(at("ca.crt")),
      serverCert: readFileSync(at("server.crt")),
      serverKey: readFileSync(at("server.key")),
      clientCert: readFileSync(at("client.crt")),
      clientKey: readFileSync(at("client.key")),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
