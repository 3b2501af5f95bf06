const fs = require("node:fs");
const path = require("node:path");
const input = (name) => (process.env[`INPUT_${name.toUpperCase()}`] || "").trim();
const slug = (key) => key.replace(/[^A-Za-z0-9._-]/g, "_");
if (process.env.STATE_hit === "true") {
  console.log("Cache hit occurred on the primary key, not saving cache.");
} else if (fs.existsSync(input("path"))) {
  const target = path.join(process.env.ACT_CACHE, slug(input("key")));
  fs.mkdirSync(target, { recursive: true });
  fs.cpSync(input("path"), target, { recursive: true });
  console.log(`Cache saved with key: ${input("key")}`);
}
