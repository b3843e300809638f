// Shared data (key/value with compare-and-swap) and shared queues, scoped by VM id and shared by every VM of
// the process with that id, as cpp-host's process-wide SharedData and SharedQueue are. They outlive a VM: a VM
// recreated after a trap or a reload sees what the previous one stored.

import { WasmResult } from "./abi.js";

interface Entry {
  value: Uint8Array;
  cas: number;
}

/** Called when a queue gets an item: the host schedules proxy_on_queue_ready on the registering root context. */
export type QueueReadyNotifier = (token: number) => void;

interface Queue {
  items: Uint8Array[];
  notify: QueueReadyNotifier | null;
}

export class SharedState {
  private readonly data = new Map<string, Map<string, Entry>>();
  private nextCas = 0;
  private readonly queueTokens = new Map<string, number>();
  private readonly queues = new Map<number, Queue>();
  private nextToken = 0;

  getData(vmId: string, key: string): { result: WasmResult; value?: Uint8Array; cas: number } {
    const e = this.data.get(vmId)?.get(key);
    if (e === undefined) return { result: WasmResult.NotFound, cas: 0 };
    return { result: WasmResult.Ok, value: e.value, cas: e.cas };
  }

  /** Sets key; with cas != 0 only when it matches the entry's current cas (else CasMismatch). Copies value. */
  setData(vmId: string, key: string, value: Uint8Array, cas: number): WasmResult {
    let map = this.data.get(vmId);
    if (map === undefined) {
      map = new Map();
      this.data.set(vmId, map);
    }
    const e = map.get(key);
    if (e !== undefined && cas !== 0 && cas !== e.cas) return WasmResult.CasMismatch;
    map.set(key, { value: value.slice(), cas: this.bumpCas() });
    return WasmResult.Ok;
  }

  private bumpCas(): number {
    this.nextCas = (this.nextCas + 1) >>> 0;
    if (this.nextCas === 0) this.nextCas = 1;
    return this.nextCas;
  }

  /** Registers (or re-registers, keeping queued items) vmId/name; the notifier replaces the previous one. */
  registerQueue(vmId: string, name: string, notify: QueueReadyNotifier): number {
    const key = `${vmId}\u0000${name}`;
    let token = this.queueTokens.get(key);
    if (token === undefined) {
      token = ++this.nextToken;
      this.queueTokens.set(key, token);
      this.queues.set(token, { items: [], notify });
    } else {
      this.queues.get(token)!.notify = notify;
    }
    return token;
  }

  resolveQueue(vmId: string, name: string): number {
    return this.queueTokens.get(`${vmId}\u0000${name}`) ?? 0;
  }

  enqueue(token: number, value: Uint8Array): WasmResult {
    const q = this.queues.get(token);
    if (q === undefined) return WasmResult.NotFound;
    q.items.push(value.slice());
    q.notify?.(token);
    return WasmResult.Ok;
  }

  dequeue(token: number): { result: WasmResult; value?: Uint8Array } {
    const q = this.queues.get(token);
    if (q === undefined) return { result: WasmResult.NotFound };
    const value = q.items.shift();
    if (value === undefined) return { result: WasmResult.Empty };
    return { result: WasmResult.Ok, value };
  }
}

/** The process-wide shared state, used unless a VM is given its own. */
export const processSharedState = new SharedState();
