/**
 * Real Dubbo peers: a `sofa-rpc-node` provider and consumer speaking the dubbo protocol
 * (`dubbo-remoting` plugged in as sofa-rpc-node's `protocol`), on loopback, without a registry.
 * The demo (`dubbo-mesh demo`) runs its providers and consumers with these, and so do the tests
 * (through test/support/dubbo-peers.ts) and the proxy benchmark. Both packages are development
 * dependencies: the demo loads this module dynamically (proxy/demo/cli.ts) and says how to install them.
 *
 *   const provider = await startProvider({ interface: "com.example.Greeter", version: "1.0.0",
 *     methods: { async sayHello(name) { return `hello ${name}`; } } });
 *   const consumer = await startConsumer({ address: `127.0.0.1:${provider.port}`,
 *     interface: "com.example.Greeter", version: "1.0.0" });
 *   await consumer.invoke("sayHello", ["bob"], { requestProps: { "dubbo.tag": "gray" } });
 *   await consumer.close(); await provider.close();
 *
 * Binding: sofa-rpc-node's server calls `net.Server.listen(port)` (all interfaces) and has no host
 * option; startProvider subclasses it so it listens on 127.0.0.1 only (`host` to change).
 * sofa-rpc-node's server also installs a process-wide `uncaughtException` handler (module
 * `graceful`) that would exit the process later; startProvider removes it again after start.
 * Errors thrown by provider methods go back to the consumer as Dubbo error responses (status 80).
 * `provider.received` lists every call the provider decoded, with its attachments, so end-to-end tests
 * can check what reached the provider (e.g. an attachment a proxy added).
 *
 * Quirks of these peers worth knowing: the consumer puts `dubbo`, `path`, `group` (and `version`)
 * plus the request's `requestProps` into the attachments; the provider answers a method returning a
 * falsy value (null, 0, "") with a bare Hessian value and no response flag, which the consumer itself
 * cannot decode (the call fails with a closed socket).
 */
import { createRequire } from "node:module";
import net, { type Server as NetServer } from "node:net";

const require = createRequire(import.meta.url);

/** A provider method: any parameter list. */
export type MethodImpl = (...args: never[]) => unknown;

/** Constructor shapes of the parts of sofa-rpc-node used here (the package has no types). */
interface SofaServer {
  publishPort: number;
  addService(info: { interfaceName: string; version: string; group: string }, impl: Record<string, MethodImpl>): void;
  start(): Promise<void>;
  close(): Promise<void>;
  on(event: "error", listener: (err: Error) => void): void;
  on(event: "request", listener: (event: { req: { data: { methodName: string; args: unknown[]; requestProps?: Record<string, unknown> } } }) => void): void;
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

const sofa = require("sofa-rpc-node") as {
  server: { RpcServer: new (options: Record<string, unknown>) => SofaServer };
  client: { RpcClient: new (options: Record<string, unknown>) => SofaClient };
};
/** The dubbo protocol implementation sofa-rpc-node takes as its `protocol` option. */
export const dubboProtocol: unknown = require("dubbo-remoting");

/**
 * A logger that drops info/debug and keeps warnings and errors in memory (sofa-rpc-node requires one);
 * with `keep` false it drops those too.
 */
export class MemoryLogger {
  readonly lines: string[] = [];
  constructor(private readonly keep = true) {}
  info(): void {}
  debug(): void {}
  warn(...args: unknown[]): void {
    if (this.keep) this.lines.push(args.map(String).join(" "));
  }
  error(...args: unknown[]): void {
    if (this.keep) this.lines.push(args.map(String).join(" "));
  }
}

export interface ProviderOptions {
  /** The Java-style interface name, e.g. "org.apache.dubbo.demo.DemoService". */
  interface: string;
  /** The service version (consumers must ask for the same one). */
  version: string;
  /** The service group (default ""). */
  group?: string;
  /** Port to listen on (default 0: a free port). */
  port?: number;
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /**
   * The methods: each receives the call's arguments and resolves to the result. They must be `async`
   * functions: sofa-rpc-node answers "Can not find method" for plain functions.
   */
  methods: Record<string, MethodImpl>;
  /**
   * Keep `received`, `errors` and the logger's lines (default true). A long-running provider (the demo)
   * passes false so memory does not grow with every call; the lists then stay empty.
   */
  keepHistory?: boolean;
}

/** A call as the provider decoded it. */
export interface ReceivedCall {
  method: string;
  args: unknown[];
  /** The request's attachments (sofa-rpc-node adds `dubbo`, `path` and, from the body, `version`). */
  attachments: Record<string, unknown>;
}

export interface Provider {
  /** The port it listens on. */
  port: number;
  /** "127.0.0.1:PORT". */
  address: string;
  /** Errors the server reported (its "error" event), in order. */
  errors: Error[];
  /** Every request the provider received, in order, with the attachments it decoded. */
  received: ReceivedCall[];
  /** Stop listening and close every connection. */
  close(): Promise<void>;
}

/** Start a sofa-rpc-node provider speaking dubbo on loopback. */
export async function startProvider(options: ProviderOptions): Promise<Provider> {
  const host = options.host ?? "127.0.0.1";
  const keep = options.keepHistory ?? true;
  const logger = new MemoryLogger(keep);
  const server = new sofa.server.RpcServer({ logger, port: options.port ?? 0, protocol: dubboProtocol });
  // Listen on `host` instead of all interfaces (sofa-rpc-node has no option for it).
  const startServer = server._startServer.bind(server);
  server._startServer = (port: number): NetServer => withListenHost(host, () => startServer(port));
  const errors: Error[] = [];
  server.on("error", (err: Error) => {
    if (keep) errors.push(err);
  });
  const received: ReceivedCall[] = [];
  if (keep) {
    server.on("request", ({ req }) => {
      received.push({ method: req.data.methodName, args: req.data.args, attachments: { ...(req.data.requestProps ?? {}) } });
    });
  }
  server.addService({ interfaceName: options.interface, version: options.version, group: options.group ?? "" }, options.methods);
  const before = new Set(process.listeners("uncaughtException"));
  await server.start();
  for (const listener of process.listeners("uncaughtException")) {
    if (!before.has(listener)) process.removeListener("uncaughtException", listener);
  }
  const port = server.publishPort;
  return {
    port,
    address: `${host}:${port}`,
    errors,
    received,
    close: () => server.close(),
  };
}

/**
 * Run `fn` (which creates one net.Server and calls listen(port, cb)) so that listen binds `host`.
 * sofa-rpc-node calls `server.listen(port, callback)`; the patch turns that into listen(port, host, callback)
 * for servers created during fn only.
 */
function withListenHost(host: string, fn: () => NetServer): NetServer {
  const originalListen = net.Server.prototype.listen;
  net.Server.prototype.listen = function patched(this: NetServer, ...args: unknown[]): NetServer {
    if (typeof args[0] === "number" && typeof args[1] === "function") {
      return (originalListen as (...a: unknown[]) => NetServer).call(this, args[0], host, args[1]);
    }
    return (originalListen as (...a: unknown[]) => NetServer).apply(this, args);
  } as typeof originalListen;
  try {
    return fn();
  } finally {
    net.Server.prototype.listen = originalListen;
  }
}

export interface ConsumerOptions {
  /** "HOST:PORT" of a provider (or of a proxy in front of it). */
  address: string;
  interface: string;
  version: string;
  group?: string;
  /** Default response timeout in ms (default 3000). */
  timeout?: number;
  /** Keep the logger's warning and error lines (default true; false for a long-running consumer). */
  keepHistory?: boolean;
}

export interface InvokeOptions {
  /** Attachments to send with the request (sofa-rpc-node's requestProps). */
  requestProps?: Record<string, string>;
  /** Response timeout in ms for this call. */
  timeout?: number;
}

export interface Consumer {
  /** Call `method` with `args`; resolves to the result, rejects with the provider's error or a timeout. */
  invoke(method: string, args: unknown[], options?: InvokeOptions): Promise<unknown>;
  /** Close the connection. */
  close(): Promise<void>;
}

/** Start a sofa-rpc-node consumer connected directly (no registry) to `address` over dubbo. */
export async function startConsumer(options: ConsumerOptions): Promise<Consumer> {
  const logger = new MemoryLogger(options.keepHistory ?? true);
  const client = new sofa.client.RpcClient({ logger, protocol: dubboProtocol });
  const consumer = client.createConsumer({
    interfaceName: options.interface,
    version: options.version,
    group: options.group ?? "",
    serverHost: options.address,
    responseTimeout: options.timeout ?? 3000,
    // The address group re-checks failed addresses in an uncancellable sleep loop that only ends when it
    // sees the consumer closed; a short period lets the process exit soon after close().
    retryFaultInterval: 200,
  });
  await consumer.ready();
  return {
    invoke: (method, args, invokeOptions = {}) =>
      consumer.invoke(method, args, {
        requestProps: invokeOptions.requestProps,
        responseTimeout: invokeOptions.timeout,
      }),
    close: async () => {
      consumer.close();
      await client.close();
    },
  };
}
