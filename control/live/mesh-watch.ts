/**
 * The live inputs of the control plane: a registry (followed) and a rules file (followed), turned into a
 * model on every change. Changes are debounced (100 ms quiet, 1 s at most by default) and the model is
 * rebuilt incrementally (`ModelBuilder` keeps the Service objects of unchanged services, so everything
 * generated per service is reused). A bad rules edit keeps the last good rules; each source's last reload
 * outcome is kept for the admin API.
 *
 * Callback timing: `onModel` runs on the event loop after a debounced burst, never inside `start()`,
 * `reload()` or `close()`; after `close()` nothing is called.
 */
import { ModelBuilder, type MeshModel } from "../model/model.js";
import { createRegistry, type Registry, type RegistryState } from "../registry/index.js";
import { RulesFile } from "../rules/load.js";
import { Debouncer, type DebounceOptions } from "./debounce.js";

export interface SourceStatus {
  /** the source's address: the registry URI or the rules file's path */
  source: string;
  ok: boolean;
  /** ISO time of the last load attempt */
  at: string;
  /** what happened: counts on success, the error otherwise */
  message: string;
}

export interface MeshStatus {
  rules: SourceStatus;
  registry: SourceStatus & { state: RegistryState };
  /** the last model build */
  build: { at: string; services: number; endpoints: number; ms: number; reason: string };
}

export interface MeshWatchOptions {
  registry: string;
  rules: string;
  debounce?: DebounceOptions;
  /** the model after each debounced change (not for the first one, which `start` returns) */
  onModel(model: MeshModel): void;
  log(message: string): void;
  /** each reload outcome of a source after `start` (a change read, or a read that failed), as it happens */
  onSourceStatus?(source: "rules" | "registry", status: SourceStatus): void;
}

export const DEFAULT_DEBOUNCE: DebounceOptions = { quietMs: 100, maxMs: 1000 };
const RULES_WATCH_MS = 20;

function endpointCount(model: MeshModel): number {
  let n = 0;
  for (const s of model.services) n += s.endpoints.length;
  return n;
}

export class MeshWatch {
  private readonly builder: ModelBuilder;
  private readonly debouncer: Debouncer;
  private registry!: Registry;
  private rulesFile!: RulesFile;
  private current!: MeshModel;
  private closed = false;
  private reasons = new Set<string>();
  private rulesStatus: SourceStatus;
  private registryStatus: SourceStatus & { state: RegistryState };
  private buildStatus: MeshStatus["build"] = { at: "", services: 0, endpoints: 0, ms: 0, reason: "" };

  private constructor(private readonly options: MeshWatchOptions) {
    this.builder = new ModelBuilder({ warn: (m) => options.log(m) });
    this.debouncer = new Debouncer(() => this.rebuild(), options.debounce ?? DEFAULT_DEBOUNCE);
    const now = new Date().toISOString();
    this.rulesStatus = { source: options.rules, ok: false, at: now, message: "not loaded" };
    this.registryStatus = { source: options.registry, ok: false, at: now, message: "not loaded", state: "disconnected" };
  }

  /** Loads both sources and follows them. Throws when either cannot be loaded now (there is no good state yet). */
  static async start(options: MeshWatchOptions): Promise<MeshWatch> {
    const w = new MeshWatch(options);
    // The rules file's own watch only gathers the events of one write (20 ms); the quiet period that matters is
    // this class's debounce, so an edit waits for one 100 ms period, not two in a row.
    w.rulesFile = new RulesFile(options.rules, {
      onRules: (rules) => {
        w.rulesStatus = { source: options.rules, ok: true, at: new Date().toISOString(), message: `${rules.length} rules` };
        options.onSourceStatus?.("rules", w.rulesStatus);
        w.changed("rules");
      },
      onError: (err) => {
        w.rulesStatus = { source: options.rules, ok: false, at: new Date().toISOString(), message: `${err.message} (keeping the last good rules)` };
        options.onSourceStatus?.("rules", w.rulesStatus);
        options.log(`rules ${options.rules}: ${err.message} (keeping the last good rules)`);
      },
    }, RULES_WATCH_MS);
    w.rulesStatus = { source: options.rules, ok: true, at: new Date().toISOString(), message: `${w.rulesFile.rules.length} rules` };
    w.registry = createRegistry(options.registry, {
      onUpdate: (providers) => {
        w.registryStatus = { ...w.registryStatus, ok: true, at: new Date().toISOString(), message: `${providers.length} providers` };
        w.changed("registry");
      },
      onWarning: (m) => options.log(`registry ${options.registry}: ${m}`),
      onReload: (err) => {
        const message = err === null ? `${w.registry.providers().length} providers` : `${err.message} (keeping the last good providers)`;
        w.registryStatus = { ...w.registryStatus, ok: err === null, at: new Date().toISOString(), message };
        if (w.current !== undefined) options.onSourceStatus?.("registry", w.registryStatus);
      },
      onState: (state) => {
        w.registryStatus = { ...w.registryStatus, state };
      },
    });
    try {
      await w.registry.start();
    } catch (err) {
      w.close();
      throw err;
    }
    w.registryStatus = {
      ...w.registryStatus,
      ok: true,
      state: "connected",
      at: new Date().toISOString(),
      message: `${w.registry.providers().length} providers`,
    };
    w.current = w.build("start");
    return w;
  }

  get model(): MeshModel {
    return this.current;
  }

  status(): MeshStatus {
    return { rules: this.rulesStatus, registry: this.registryStatus, build: this.buildStatus };
  }

  /** Re-reads the rules file and the registry now (SIGHUP); the rebuild goes through the debounce like any change. */
  async reload(): Promise<void> {
    this.rulesFile.reload();
    this.registry.reload?.();
    this.changed("reload");
  }

  close(): void {
    this.closed = true;
    this.debouncer.cancel();
    this.rulesFile?.close();
    void this.registry?.close();
  }

  private changed(reason: string): void {
    if (this.closed) return;
    this.reasons.add(reason);
    this.debouncer.trigger();
  }

  private build(reason: string): MeshModel {
    const t0 = performance.now();
    const model = this.builder.build(this.registry.providers(), this.rulesFile.rules);
    this.buildStatus = {
      at: new Date().toISOString(),
      services: model.services.length,
      endpoints: endpointCount(model),
      ms: Math.round((performance.now() - t0) * 10) / 10,
      reason,
    };
    return model;
  }

  private rebuild(): void {
    if (this.closed) return;
    const reason = [...this.reasons].sort().join(",");
    this.reasons.clear();
    try {
      this.current = this.build(reason);
    } catch (err) {
      this.options.log(`cannot rebuild the model (${reason}): ${(err as Error).message}; keeping the last one`);
      return;
    }
    this.options.onModel(this.current);
  }
}
