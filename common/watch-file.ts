/**
 * Follows one file: `onChange` is called when its content differs from the content last seen.
 *
 * The folder holding the file is watched (fs.watch on the folder), not the file, so these are all seen:
 * - an edit in place;
 * - an editor's save by rename (write a temporary file, rename it over the old one);
 * - a Kubernetes ConfigMap update: the mounted file is a symlink `rules.yaml -> ..data/rules.yaml`, and the
 *   kubelet swaps the `..data` symlink to a new timestamped folder (creates `..data_tmp`, renames it over
 *   `..data`). No event names the file itself; only its content tells.
 *
 * Any event in the folder starts a short debounce (`debounceMs` after the last event); then the file is read
 * (through symlinks) and its SHA-256 compared with the last one, so events that leave the content as it was
 * (another file of the folder, `touch`, a swap to equal content) call nothing. A file that cannot be read
 * counts as a content of its own: going missing calls `onChange` once (the reader then reports the error),
 * coming back calls it again. The callback runs on the event loop, never inside `watchFile`. `close()` stops
 * the watch and any pending check.
 */
import { createHash } from "node:crypto";
import { type FSWatcher, readFileSync, watch } from "node:fs";
import { dirname } from "node:path";

export interface FileWatch {
  close(): void;
}

/** The content's SHA-256 (hex), or "unreadable: CODE" when the file cannot be read. */
function contentHash(path: string): string {
  try {
    return createHash("sha256").update(readFileSync(path)).digest("hex");
  } catch (err) {
    return `unreadable: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }
}

export function watchFile(path: string, onChange: () => void, debounceMs = 100): FileWatch {
  let seen = contentHash(path);
  let timer: NodeJS.Timeout | undefined;
  const check = (): void => {
    timer = undefined;
    const now = contentHash(path);
    if (now === seen) return;
    seen = now;
    onChange();
  };
  const watcher: FSWatcher = watch(dirname(path), { persistent: false }, () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(check, debounceMs);
  });
  watcher.on("error", () => {
    /* the folder went away: keep the last good state; nothing to do */
  });
  return {
    close() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      watcher.close();
    },
  };
}
