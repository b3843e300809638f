/**
 * Watches one file for changes (fs.watch on its folder, so editors that replace the file by rename are seen)
 * and calls `onChange` once per burst of events, `debounceMs` after the last one. The callback runs on the
 * event loop, never synchronously inside `watchFile`. `close()` stops the watch and any pending call.
 */
import { watch, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";

export interface FileWatch {
  close(): void;
}

export function watchFile(path: string, onChange: () => void, debounceMs = 100): FileWatch {
  const name = basename(path);
  let timer: NodeJS.Timeout | undefined;
  const watcher: FSWatcher = watch(dirname(path), { persistent: false }, (_event, filename) => {
    if (filename !== null && filename.toString() !== name) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      onChange();
    }, debounceMs);
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
