const fs = require("node:fs");
const path = require("node:path");
const input = (name) => (process.env[`INPUT_${name.toUpperCase()}`] || "").trim();
const root = process.env.ACT_CACHE;
const slug = (key) => key.replace(/[^A-Za-z0-9._-]/g, "_");
const key = input("key");
let source = null;
if (fs.existsSync(path.join(root, slug(key)))) {
  source = slug(key);
} else {
  for (const prefix of input("restore-keys").split("\n").map((k) => k.trim()).filter(Boolean)) {
    const matches = fs.existsSync(root)
      ? fs.readdirSync(root).filter((name) => name.startsWith(slug(prefix)))
          .sort((a, b) => fs.statSync(path.join(root, b)).mtimeMs - fs.statSync(path.join(root, a)).mtimeMs)
      : [];
    if (matches.length) { source = matches[0]; break; }
  }
}
if (source) {
  fs.cpSync(path.join(root, source), input("path"), { recursive: true });
  console.log(`Cache restored from key: ${source}`);
} else {
  console.log(`Cache not found for input keys: ${key}`);
}
fs.appendFileSync(process.env.GITHUB_OUTPUT, `cache-hit=${source === slug(key)}\n`);
fs.appendFileSync(process.env.GITHUB_STATE, `hit=${source === slug(key)}\n`);
