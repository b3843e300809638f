/**
 * common/watch-file.ts on a real file system: a Kubernetes ConfigMap-style volume (the file a symlink into
 * `..data`, which is swapped atomically to a new timestamped folder), an editor's save by rename, an edit in
 * place, a file that goes missing and comes back — and events that leave the content as it was, which call
 * nothing. The debounce timer is faked so each check runs when the test says, after the folder's events
 * arrived (seen as a pending timer), with no sleep.
 */
import { lstatSync, mkdtempSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type FileWatch, watchFile } from "../../common/watch-file.js";
import { configMapVolume } from "../support/config-map.js";

const DEBOUNCE = 50;

/** Wait (on real I/O turns, not timers) until the watcher has an event to check, then run the check. */
async function settle(): Promise<void> {
  const end = Date.now() + 5000;
  while (vi.getTimerCount() === 0) {
    if (Date.now() > end) throw new Error("no file-system event reached the watcher within 5 s");
    await new Promise((r) => setImmediate(r));
  }
  vi.advanceTimersByTime(DEBOUNCE);
}

describe("watchFile", () => {
  let dir: string;
  let watch: FileWatch | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "dubbo-mesh-watch-"));
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
  });
  afterEach(() => {
    watch?.close();
    watch = undefined;
    vi.useRealTimers();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Follow `path`, recording the content the callback reads each time. */
  function follow(path: string): string[] {
    const seen: string[] = [];
    watch = watchFile(path, () => seen.push(readFileSync(path, "utf8")), DEBOUNCE);
    return seen;
  }

  it("sees a ConfigMap update (the ..data symlink swapped to a new folder) and skips a swap to equal content", async () => {
    const volume = configMapVolume(dir, { "rules.yaml": "version: 1\n" });
    expect(lstatSync(join(dir, "rules.yaml")).isSymbolicLink()).toBe(true);
    const seen = follow(join(dir, "rules.yaml"));

    volume.update({ "rules.yaml": "version: 2\n" });
    await settle();
    expect(seen).toEqual(["version: 2\n"]);

    volume.update({ "rules.yaml": "version: 2\n" }); // a new folder, the same content: nothing to apply
    await settle();
    expect(seen).toEqual(["version: 2\n"]);

    volume.update({ "rules.yaml": "version: 3\n" });
    await settle();
    expect(seen).toEqual(["version: 2\n", "version: 3\n"]);
  });

  it("sees an editor's save by rename and an edit in place, and ignores other files of the folder", async () => {
    const path = join(dir, "proxy.yaml");
    writeFileSync(path, "a: 1\n");
    const seen = follow(path);

    writeFileSync(join(dir, ".proxy.yaml.swp"), "a: 2\n");
    renameSync(join(dir, ".proxy.yaml.swp"), path);
    await settle();
    expect(seen).toEqual(["a: 2\n"]);

    writeFileSync(join(dir, "unrelated.txt"), "x");
    await settle();
    expect(seen).toEqual(["a: 2\n"]);

    writeFileSync(path, "a: 3\n");
    await settle();
    expect(seen).toEqual(["a: 2\n", "a: 3\n"]);
  });

  it("calls once when the file goes missing and once when it comes back", async () => {
    const path = join(dir, "rules.yaml");
    writeFileSync(path, "x: 1\n");
    let calls = 0;
    watch = watchFile(path, () => calls++, DEBOUNCE);
    unlinkSync(path);
    await settle();
    expect(calls).toBe(1);
    writeFileSync(path, "x: 1\n");
    await settle();
    expect(calls).toBe(2);
  });
});
