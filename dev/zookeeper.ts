/**
 * A real ZooKeeper for tests: Debian's `zookeeperd` jars run directly with Java (standalone
 * `ZooKeeperServerMain`) on a free 127.0.0.1 port with a temporary data dir and a generated zoo.cfg.
 *
 *   const zk = await ZooKeeperServer.start();
 *   zk.connectString            // "127.0.0.1:PORT"
 *   await zk.stop();            // kill, keep port and data
 *   await zk.restart();         // same port and data dir ({wipe: true}: a fresh, empty data dir)
 *   await zk.dispose();         // kill and delete the data dir (also done at process exit)
 *
 * `start()` waits until the server answers the `ruok` four-letter word with `imok`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const p of live) p.stdin?.destroy();
});

/** The Java classpath of the installed ZooKeeper. zookeeper.jar's manifest lists its dependencies. */
export function zookeeperClasspath(): string {
  const debianJar = "/usr/share/java/zookeeper.jar";
  const jars: string[] = [];
  if (existsSync(debianJar)) jars.push(debianJar);
  for (const dir of ["/usr/share/zookeeper/lib", "/usr/share/zookeeper"]) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) if (f.endsWith(".jar")) jars.push(join(dir, f));
  }
  if (jars.length === 0) {
    throw new Error("ZooKeeper jars not found (/usr/share/java/zookeeper.jar): install Debian's zookeeperd (apt-get install zookeeperd); .ci/run does");
  }
  return jars.join(":");
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Sends a four-letter word; resolves with the answer ("" when the server is not there). */
export function fourLetterWord(port: number, word: string, timeoutMs = 1000): Promise<string> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: "127.0.0.1", port });
    let data = "";
    const done = () => {
      sock.destroy();
      resolve(data);
    };
    sock.setTimeout(timeoutMs, done);
    sock.on("connect", () => sock.write(word));
    sock.on("data", (d) => (data += d.toString()));
    sock.on("end", done);
    sock.on("error", done);
  });
}

export class ZooKeeperServer {
  private proc: ChildProcess | undefined;
  private output = "";

  private constructor(
    readonly port: number,
    private dataDir: string,
    private readonly baseDir: string,
  ) {}

  get connectString(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** `heapMb`: the JVM's -Xmx (default 128; a benchmark's 100k znodes need more). */
  static async start(options: { tickTimeMs?: number; heapMb?: number } = {}): Promise<ZooKeeperServer> {
    const baseDir = mkdtempSync(join(tmpdir(), "dubbo-mesh-zk-"));
    const server = new ZooKeeperServer(await freePort(), join(baseDir, "data-0"), baseDir);
    server.tickTimeMs = options.tickTimeMs ?? 200;
    server.heapMb = options.heapMb ?? 128;
    await server.launch();
    return server;
  }

  private tickTimeMs = 200;
  private heapMb = 128;
  private generation = 0;

  private async launch(): Promise<void> {
    mkdirSync(this.dataDir, { recursive: true });
    const cfg = join(this.baseDir, "zoo.cfg");
    writeFileSync(
      cfg,
      [
        `tickTime=${this.tickTimeMs}`,
        `dataDir=${this.dataDir}`,
        `clientPort=${this.port}`,
        "clientPortAddress=127.0.0.1",
        "maxClientCnxns=0",
        "admin.enableServer=false",
        "4lw.commands.whitelist=ruok,srvr,stat",
        "",
      ].join("\n"),
    );
    const java = [
      "java",
      `-Xmx${this.heapMb}m`,
      "-XX:+UseSerialGC",
      "-XX:TieredStopAtLevel=1",
      `-Dzookeeper.log.dir=${this.baseDir}`,
      "-cp",
      zookeeperClasspath(),
      "org.apache.zookeeper.server.ZooKeeperServerMain",
      cfg,
    ];
    // A small shell guard owns the JVM: when our end of its stdin closes — stop(), or this process dying in
    // any way, even SIGKILL — it kills the JVM, so no ZooKeeper outlives the tests.
    // (fd 3 keeps the real stdin: sh gives background jobs /dev/null as stdin.)
    const guard = 'exec 3<&0; "$@" & java_pid=$!; (read _unused <&3; kill -9 "$java_pid" 2>/dev/null) & wait "$java_pid"';
    const proc = spawn("sh", ["-c", guard, "zookeeper-guard", ...java], { stdio: ["pipe", "pipe", "pipe"] });
    this.output = "";
    proc.stdout!.on("data", (d) => (this.output = (this.output + d.toString()).slice(-4000)));
    proc.stderr!.on("data", (d) => (this.output = (this.output + d.toString()).slice(-4000)));
    live.add(proc);
    proc.on("exit", () => live.delete(proc));
    this.proc = proc;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`ZooKeeper exited with ${proc.exitCode}:\n${this.output}`);
      if ((await fourLetterWord(this.port, "ruok", 500)) === "imok") return;
      await new Promise((r) => setTimeout(r, 100));
    }
    proc.stdin?.end();
    throw new Error(`ZooKeeper did not answer ruok on ${this.connectString} within 30 s:\n${this.output}`);
  }

  /** Kills the server (SIGKILL: like a crash; clients see the connection drop). Port and data stay. */
  async stop(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    if (!proc || proc.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once("exit", () => resolve());
      proc.stdin?.end(); // the guard kills the JVM (SIGKILL: like a crash) and exits when it is gone
    });
  }

  /** Starts again on the same port; with `wipe` on a new, empty data dir (every session and node gone). */
  async restart(options: { wipe?: boolean } = {}): Promise<void> {
    await this.stop();
    if (options.wipe) this.dataDir = join(this.baseDir, `data-${++this.generation}`);
    await this.launch();
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.baseDir, { recursive: true, force: true });
  }
}
