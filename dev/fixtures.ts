/**
 * The captured byte fixtures under test/fixtures/: the layout of their index.json, which
 * scripts/capture-fixtures.ts writes and the codec and filter tests read, and readers for both.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../common/paths.js";

export const fixturesDir = join(packageRoot, "test", "fixtures");

/** A recorded frame: the file holds its exact bytes. */
export interface PeerFixture {
  file: string;
  source: "peer";
  /** Who wrote it: the consumer (requests, heartbeat requests) or the provider (responses). */
  direction: "consumer-to-provider" | "provider-to-consumer";
  description: string;
  /** What the peers were asked to do (the call), for the tests' expectations. */
  call?: { interface: string; version: string; group: string; method: string; args: unknown[]; requestProps: Record<string, string> };
}

/** A single Hessian 2 value written by hessian.js EncoderV2. */
export interface HessianFixture {
  file: string;
  source: "hessian.js";
  description: string;
}

/** test/fixtures/index.json. */
export interface FixtureIndex {
  peers: PeerFixture[];
  hessian: HessianFixture[];
}

/** Reads test/fixtures/index.json. */
export function readFixtureIndex(): FixtureIndex {
  return JSON.parse(readFileSync(join(fixturesDir, "index.json"), "utf8")) as FixtureIndex;
}

/** The bytes of one fixture file. */
export function fixtureBytes(file: string): Buffer {
  return readFileSync(join(fixturesDir, file));
}
