#!/usr/bin/env node
// Entry point of the `dubbo-mesh` command: the TypeScript sources are compiled to dist/ by `npm run build`
// (run by `npm ci` through `prepare`).
import { main } from "../dist/cli/index.js";

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`dubbo-mesh: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
