// Prints the gzip size of what the browser loads first (index.html's script, its modulepreloads and the
// stylesheet) and of every chunk loaded on demand: npm run sizes (after a build).
import { readFileSync, readdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import path from 'node:path';

const dir = path.resolve('static/app');
const html = readFileSync(path.join(dir, 'index.html'), 'utf8');
const initial = new Set([...html.matchAll(/(?:src|href)="\/(assets\/[^"]+)"/g)].map((m) => m[1]));
const gz = (f) => gzipSync(readFileSync(path.join(dir, f)), { level: 9 }).length;
const kb = (n) => (n / 1024).toFixed(1) + ' KiB';

let total = gz('index.html');
console.log('initial (index.html + entry + modulepreloads + CSS):');
for (const f of [...initial].sort()) {
  const n = gz(f);
  total += n;
  console.log(`  ${f.padEnd(40)} ${kb(n).padStart(10)}`);
}
console.log(`  ${'total, gzip'.padEnd(40)} ${kb(total).padStart(10)}`);
console.log('on demand:');
for (const f of readdirSync(path.join(dir, 'assets')).map((f) => 'assets/' + f).filter((f) => !initial.has(f)).sort((a, b) => gz(b) - gz(a))) {
  console.log(`  ${f.padEnd(40)} ${kb(gz(f)).padStart(10)}`);
}
