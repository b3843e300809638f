/**
 * The demo's Dubbo peers: sofa-rpc-node providers and consumers speaking the dubbo protocol
 * (dubbo-remoting), bound to loopback. Both packages are devDependencies: present after `npm ci`, which is
 * how the demo is run (`npm start`).
 */
import { createRequire } from "node:module";
import net, { type Server as NetServer } from "node:net";

const require = createRequire(import.meta.url);

type MethodImpl = (...args: never[]) => unknown;
interface SofaServer {
  publishPort: number;
  addService(info: { interfaceName: string; version: string; group: string }, impl: Record<string, MethodImpl>): void;
  start(): Promise<void>;
  close(): Promise<void>;
  on(event: "error", listener: (err: Error) => void): void;
  _startServer(port: number): NetServer;
}
interface SofaConsumer {
  ready(): Promise<void>;
  close(): void;
  invoke(method: string, args: unknown[], options?: { requestProps?: Record<string, string>; responseTimeout?: number }): Promise<unknown>;
}
interface SofaClient {
  createConsumer(options: Record<string, unknown>): SofaConsumer;
  close(): Promise<void>;
}

function load() {
  try {
    return {
      sofa: require("sofa-rpc-node") as {
        server: { RpcServer: new (options: Record<string, unknown>) => SofaServer };
        client: { RpcClient: new (options: Record<string, unknown>) => SofaClient };
      },
      protocol: require("dubbo-remoting") as unknown,
    };
  } catch (err) {
    throw new Error(`the demo needs the dev dependencies sofa-rpc-node and dubbo-remoting (run npm ci): ${(err as Error).message}`);
  }
}

const quiet = { info() {}, debug() {}, warn() {}, error() {} };

export interface DemoProvider {
  port: number;
  close(): Promise<void>;
}

export async function startDemoProvider(iface: string, version: string, port: number, methods: Record<string, MethodImpl>): Promise<DemoProvider> {
  const { sofa, protocol } = load();
  const server = new sofa.server.RpcServer({ logger: quiet, port, protocol });
  // sofa-rpc-node listens on all interfaces; bind loopback only.
  const startServer = server._startServer.bind(server);
  server._startServer = (p: number): NetServer => {
    const original = net.Server.prototype.listen;
    net.Server.prototype.listen = function (this: NetServer, ...args: unknown[]): NetServer {
      if (typeof args[0] === "number" && typeof args[1] === "function") return (original as (...a: unknown[]) => NetServer).call(this, args[0], "127.0.0.1", args[1]);
      return (original as (...a: unknown[]) => NetServer).apply(this, args);
    } as typeof original;
    try {
      return startServer(p);
    } finally {
      net.Server.prototype.listen = original;
    }
  };
  server.on("error", () => undefined);
  server.addService({ interfaceName: iface, version, group: "" }, methods);
  const before = new Set(process.listeners("uncaughtException"));
  await server.start();
  // sofa-rpc-node installs a process-wide handler that would exit later; the demo handles its own errors.
  for (const l of process.listeners("uncaughtException")) if (!before.has(l)) process.removeListener("uncaughtException", l);
  return { port: server.publishPort, close: () => server.close() };
}

export interface DemoConsumer {
  invoke(method: string, args: unknown[], attachments?: Record<string, string>): Promise<unknown>;
  close(): Promise<void>;
}

export async function startDemoConsumer(address: string, iface: string, version: string): Promise<DemoConsumer> {
  const { sofa, protocol } = load();
  const client = new sofa.client.RpcClient({ logger: quiet, protocol });
  const consumer = client.createConsumer({ interfaceName: iface, version, group: "", serverHost: address, responseTimeout: 3000 });
  await consumer.ready();
  return {
    invoke: (method, args, attachments) => consumer.invoke(method, args, { requestProps: attachments }),
    close: async () => {
      consumer.close();
      await client.close();
    },
  };
}
