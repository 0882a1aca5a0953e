// Copies the runtime files the page needs out of node_modules into vendor/, so the page loads
// everything from its own origin (never a CDN) and vendor/ can be served as plain static files.
// Run by `npm ci` / `npm install` (postinstall) or `npm run vendor`.
import {cpSync, mkdirSync, readFileSync, rmSync, writeFileSync, readdirSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const nm = join(here, 'node_modules', '@litertjs');
const out = join(here, 'vendor', 'litertjs');
rmSync(out, {recursive: true, force: true});
mkdirSync(join(out, 'core'), {recursive: true});
mkdirSync(join(out, 'wasm-utils'), {recursive: true});

// The core module imports its helper by bare name; browsers need a path (no import map, so the
// page's content security policy can forbid inline scripts).
const core = readFileSync(join(nm, 'core', 'dist', 'index.js'), 'utf8');
const rewritten = core.replace(/from\s+["']@litertjs\/wasm-utils["']/g, 'from "../wasm-utils/index.js"');
if (rewritten === core) throw new Error('@litertjs/core no longer imports @litertjs/wasm-utils by name: update vendor.mjs');
writeFileSync(join(out, 'core', 'index.js'), rewritten.replace(/\/\/# sourceMappingURL=.*$/m, ''));
writeFileSync(join(out, 'wasm-utils', 'index.js'),
  readFileSync(join(nm, 'wasm-utils', 'dist', 'index.js'), 'utf8').replace(/\/\/# sourceMappingURL=.*$/m, ''));
cpSync(join(nm, 'core', 'wasm'), join(out, 'wasm'), {recursive: true});
const version = JSON.parse(readFileSync(join(nm, 'core', 'package.json'), 'utf8')).version;
writeFileSync(join(out, 'VERSION'), version + '\n');
console.log(`vendor/litertjs: @litertjs/core ${version}, ${readdirSync(join(out, 'wasm')).length} wasm files`);
