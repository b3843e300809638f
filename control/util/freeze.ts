/**
 * Objects the model and the generators share are read-only: a `Service` is reused across builds and the
 * per-service cache hands out the same pieces to every build. With `DUBBO_MESH_FREEZE=1` (the test suite
 * sets it) they are deep-frozen where they are made, so code that alters one throws instead of corrupting
 * a later build. Off by default: freezing costs a walk of every object.
 */
export const freezeShared: boolean = process.env["DUBBO_MESH_FREEZE"] === "1";

/** `value`, deep-frozen when DUBBO_MESH_FREEZE=1. */
export function shared<T>(value: T): T {
  if (freezeShared) deepFreeze(value);
  return value;
}

function deepFreeze(value: unknown): void {
  if (value === null || typeof value !== "object" || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
}
