// ESLint over all TypeScript of the project (sources, tests, benches, scripts), with typescript-eslint's
// type-aware rules: the typecheck (`tsc`) finds type errors, these find what types alone allow but is
// almost always a bug here (an unawaited promise in a stream handler, a promise passed where a callback's
// return value is ignored). assembly/ is AssemblyScript and is checked by its own compiler.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  // dev/test-modules/noop.ts is AssemblyScript too (a test module compiled by asc)
  { ignores: ["dist/**", "build/**", "node_modules/**", "assembly/**", "bin/**", "dev/test-modules/noop.ts"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    languageOptions: { parserOptions: { projectService: { allowDefaultProject: ["vitest.config.ts"] }, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: { arguments: false } }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
    },
  },
  {
    // table tests mutate one valid configuration in arbitrary ways: their mutators take `any` on purpose
    files: ["test/**/*.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off" },
  },
);
