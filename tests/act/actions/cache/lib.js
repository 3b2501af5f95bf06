// Stand-ins for actions/cache/restore and actions/cache/save (the workflows use only these
// halves): entries are folders $ACT_CACHE/<key>, as the service keeps archives by key. Lookup:
// the exact key, else the newest entry starting with a restore key. An existing key is kept.
const fs = require("node:fs");
const path = require("node:path");

const input = (name) => (process.env[`INPUT_${name.toUpperCase()}`] || "").trim();
const slug = (key) => key.replace(/[^A-Za-z0-9._-]/g, "_");

function restore() {
  const root = process.env.ACT_CACHE;
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
  const hit = source === slug(key);
  fs.appendFileSync(process.env.GITHUB_OUTPUT, `cache-hit=${hit}\ncache-primary-key=${key}\ncache-matched-key=${source || ""}\n`);
  return hit;
}

function save(key) {
  const target = path.join(process.env.ACT_CACHE, slug(key));
  if (fs.existsSync(target)) {
    console.log(`Failed to save: Unable to reserve cache with key ${key}, another job may be creating this cache.`);
  } else if (fs.existsSync(input("path"))) {
    fs.mkdirSync(target, { recursive: true });
    fs.cpSync(input("path"), target, { recursive: true });
    console.log(`Cache saved with key: ${key}`);
  } else {
    console.log(`Warning: Path Validation Error: Path(s) specified in the action for caching do(es) not exist, hence no cache is being saved.`);
  }
}

module.exports = { input, restore, save };
