/**
 * A folder laid out as the kubelet lays out a mounted ConfigMap, and updated as it updates one
 * (kubernetes pkg/volume/util/atomic_writer.go): the data in a timestamped folder `..TIMESTAMP/`, a symlink
 * `..data -> ..TIMESTAMP`, and each key a symlink `KEY -> ..data/KEY`. An update writes a new timestamped
 * folder, points a new symlink `..data_tmp` at it, renames `..data_tmp` over `..data` (the atomic step) and
 * removes the old folder. The keys' own symlinks never change.
 */
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface ConfigMapVolume {
  /** Publish new contents for the keys (all keys of the ConfigMap, as the kubelet does). */
  update(files: Record<string, string>): void;
}

export function configMapVolume(dir: string, files: Record<string, string>): ConfigMapVolume {
  let generation = 0;
  let current = "";
  const publish = (contents: Record<string, string>): void => {
    const ts = `..2026_12_04_19_00_00.${String(++generation).padStart(9, "0")}`;
    mkdirSync(join(dir, ts));
    for (const [key, text] of Object.entries(contents)) writeFileSync(join(dir, ts, key), text);
    symlinkSync(ts, join(dir, "..data_tmp"));
    renameSync(join(dir, "..data_tmp"), join(dir, "..data"));
    if (current !== "") rmSync(join(dir, current), { recursive: true, force: true });
    current = ts;
  };
  publish(files);
  for (const key of Object.keys(files)) symlinkSync(join("..data", key), join(dir, key));
  return { update: publish };
}
