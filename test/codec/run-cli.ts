// Runs the dubbo-mesh command line from the TypeScript sources (the CLI tests spawn this with tsx).
import { main } from "../../cli/index.js";

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`dubbo-mesh: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
