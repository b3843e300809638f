/**
 * The demo's Dubbo peers, each group in a child process of its own (`fork` this module): `sofa-rpc-node`
 * peers in one process with a proxy grow it to gigabytes and their call rate collapses, while in a process of
 * their own they stay near 100 MB at thousands of calls per second.
 *
 *   providers PORT_V1 PORT_V2   two providers of the demo service (revision v1 and v2); sends {ready, ports}
 *   consumer ADDRESS CONCURRENCY a consumer calling the mix of `DEMO_CALLS` through ADDRESS; sends {counts}
 *                               once a second (the calls since the last message) until it gets "stop"
 *
 * Messages go over the IPC channel `fork` opens; a child whose parent goes away exits.
 */
import { startConsumer, startProvider, type Consumer, type Provider } from "./dubbo-peers.js";

export const DEMO_SERVICE = "org.apache.dubbo.demo.DemoService";
export const DEMO_VERSION = "1.0.0";

/** The kinds of calls the consumer makes, in the order of its counts. */
export const DEMO_CALLS: readonly { label: string; method: string; attachments?: Record<string, string> }[] = [
  { label: "sayHello", method: "sayHello" },
  { label: "greet", method: "greet" },
  { label: "sayHello gray", method: "sayHello", attachments: { "dubbo.tag": "gray" } },
  { label: "deleteUser", method: "deleteUser" },
];
/** 50 calls: 36 sayHello, 6 greet, 7 gray, 1 deleteUser. */
const MIX: readonly number[] = Array.from({ length: 50 }, (_, i) => (i === 49 ? 3 : i % 8 === 3 ? 1 : i % 8 === 7 ? 2 : 0));

/** Per kind of call: answers from v1, from v2, and failures. */
export interface CallCounts {
  v1: number[];
  v2: number[];
  errors: number[];
}

export type PeerMessage =
  | { type: "ready"; ports: number[] }
  | { type: "counts"; counts: CallCounts; rssBytes: number }
  | { type: "error"; message: string };

export function emptyCounts(): CallCounts {
  const zeros = () => DEMO_CALLS.map(() => 0);
  return { v1: zeros(), v2: zeros(), errors: zeros() };
}

const methods = (subset: string) => ({
  async sayHello(name: string) {
    return `${subset}: hello ${name}`;
  },
  async greet(name: string) {
    return `${subset}: greetings, ${name}`;
  },
  async deleteUser(name: string) {
    return `${subset}: deleted ${name}`;
  },
});

function send(message: PeerMessage): void {
  process.send?.(message);
}

async function runProviders(ports: number[]): Promise<() => Promise<void>> {
  const providers: Provider[] = [];
  for (const [i, subset] of ["v1", "v2"].entries()) {
    providers.push(
      await startProvider({ interface: DEMO_SERVICE, version: DEMO_VERSION, port: ports[i] ?? 0, methods: methods(subset), keepHistory: false }),
    );
  }
  send({ type: "ready", ports: providers.map((p) => p.port) });
  return async () => {
    await Promise.allSettled(providers.map((p) => p.close()));
  };
}

async function runConsumer(address: string, concurrency: number): Promise<() => Promise<void>> {
  const consumer: Consumer = await startConsumer({ address, interface: DEMO_SERVICE, version: DEMO_VERSION, keepHistory: false });
  let counts = emptyCounts();
  let stop = false;
  let issued = 0;
  const worker = async () => {
    while (!stop) {
      const kind = MIX[issued++ % MIX.length]!;
      const call = DEMO_CALLS[kind]!;
      try {
        const where = String(await consumer.invoke(call.method, ["demo"], { requestProps: call.attachments })).split(":")[0];
        if (where === "v1") counts.v1[kind]!++;
        else if (where === "v2") counts.v2[kind]!++;
        else counts.errors[kind]!++;
      } catch {
        counts.errors[kind]!++;
      }
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  const ticker = setInterval(() => {
    send({ type: "counts", counts, rssBytes: process.memoryUsage.rss() });
    counts = emptyCounts();
  }, 1000);
  send({ type: "ready", ports: [] });
  return async () => {
    stop = true;
    clearInterval(ticker);
    await Promise.allSettled(workers);
    send({ type: "counts", counts, rssBytes: process.memoryUsage.rss() });
    await consumer.close();
  };
}

async function childMain(argv: string[]): Promise<void> {
  const [role, ...rest] = argv;
  let stop: () => Promise<void>;
  try {
    if (role === "providers") stop = await runProviders(rest.map(Number));
    else if (role === "consumer") stop = await runConsumer(rest[0]!, Number(rest[1] ?? 4));
    else throw new Error(`unknown role ${JSON.stringify(role)} (providers or consumer)`);
  } catch (err) {
    send({ type: "error", message: (err as Error).message });
    process.exit(1);
  }
  const finish = () => {
    void stop().finally(() => process.exit(0));
  };
  process.on("message", (m) => {
    if (m === "stop") finish();
  });
  process.on("disconnect", finish);
}

if (process.send !== undefined && process.argv[2] !== undefined && /peer-process\.[jt]s$/.test(process.argv[1] ?? "")) {
  void childMain(process.argv.slice(2));
}
