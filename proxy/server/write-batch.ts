/**
 * Coalesces the writes made while one read is handled: the first write to a socket corks it, and `flush()`
 * at the end of the read uncorks them all, so N frames for one peer leave in one writev.
 */
import type { Socket } from "node:net";

export interface Corkable {
  readonly socket: Socket;
  corked: boolean;
}

/** Work to finish at the end of the outermost batch, before the sockets are uncorked. */
export interface Deferred {
  flush(): void;
}

export class WriteBatch {
  private readonly corked: Corkable[] = [];
  private readonly deferred: Deferred[] = [];
  private depth = 0;

  /** True while a batch is open. */
  get active(): boolean {
    return this.depth > 0;
  }

  /** Run `d.flush()` once at the end of the outermost batch (the caller defers itself once per batch). */
  defer(d: Deferred): void {
    this.deferred.push(d);
  }

  /** Start a batch; batches nest (a response handled inside a request batch joins the outer one). */
  begin(): void {
    this.depth++;
  }

  write(target: Corkable, buf: Uint8Array): void {
    if (this.depth > 0 && !target.corked) {
      target.corked = true;
      target.socket.cork();
      this.corked.push(target);
    }
    target.socket.write(buf);
  }

  end(): void {
    if (this.depth > 1) {
      this.depth--;
      return;
    }
    // Still inside the batch: deferred work may write (and defer more).
    const deferred = this.deferred;
    try {
      for (let i = 0; i < deferred.length; i++) deferred[i].flush();
    } finally {
      deferred.length = 0;
      this.depth = 0;
    }
    const list = this.corked;
    for (let i = 0; i < list.length; i++) {
      list[i].corked = false;
      list[i].socket.uncork();
    }
    list.length = 0;
  }
}

/** The process-wide batch: Node runs one read handler at a time. */
export const writeBatch = new WriteBatch();
