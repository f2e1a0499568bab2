// Regenerates server/htmlcheck/caniemail.json, the email-client support
// data the HTML check scores against, and CANIEMAIL-LICENSE beside it,
// from the npm package caniemail (MIT). Building mailsink never needs
// Node: the output is committed. Run from the repository root:
//
//   node server/htmlcheck/gen/caniemail.mjs            # fetches caniemail@VERSION with `npm pack`
//   node server/htmlcheck/gen/caniemail.mjs DIR        # or reads an unpacked package in DIR
//
// The output keeps only what the check serves (slug, title, description,
// url, category, tags, keywords, notes, stats) and turns caniemail's small
// markdown (`code`, [links](...), **bold**, *emphasis*) into HTML, as
// Mailpit serves it; everything else is escaped. Keys are written in a
// fixed order, so the same package always gives the same bytes.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const VERSION = '2.0.2';
const out = join(dirname(fileURLToPath(import.meta.url)), '..');

let pkgDir = process.argv[2];
let tmp;
if (!pkgDir) {
  tmp = mkdtempSync(join(tmpdir(), 'caniemail-'));
  execFileSync('npm', ['pack', `caniemail@${VERSION}`, '--pack-destination', tmp, '--silent'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const tgz = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
  execFileSync('tar', ['-xzf', join(tmp, tgz), '-C', tmp]);
  pkgDir = join(tmp, 'package');
}
try {
  const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  const data = JSON.parse(readFileSync(join(pkgDir, 'data', 'caniemail.json'), 'utf8'));
  const license = readFileSync(join(pkgDir, 'LICENSE'), 'utf8');

  const escape = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  // Code spans first, so nothing inside them is read as markup.
  const md = (s) => {
    if (!s) return '';
    const parts = String(s).split(/(`[^`]*`)/);
    return parts.map((p) => {
      if (p.length > 1 && p.startsWith('`') && p.endsWith('`')) return '<code>' + escape(p.slice(1, -1)) + '</code>';
      let h = escape(p);
      h = h.replace(/\[([^\]]+)\]\((https?:\/\/[^)\s]+)\)/g, (_, text, url) => `<a href="${url}" target="_blank" rel="noopener noreferrer">${text}</a>`);
      h = h.replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>');
      h = h.replace(/(^|[^*])\*([^*\s][^*]*)\*/g, '$1<em>$2</em>');
      return h;
    }).join('').trim();
  };
  const sorted = (o) => Object.fromEntries(Object.keys(o || {}).sort().map((k) => [k, o[k]]));
  const stats = (s) => Object.fromEntries(Object.keys(s || {}).sort().map((family) =>
    [family, Object.fromEntries(Object.keys(s[family]).sort().map((platform) =>
      [platform, sorted(s[family][platform])]))]));

  const features = data.data.map((f) => ({
    slug: f.slug,
    title: f.title || '',
    description: md(f.description),
    url: f.url || '',
    category: f.category || '',
    tags: f.tags || [],
    keywords: f.keywords || '',
    notes: Object.fromEntries(Object.entries(f.notes_by_num || {}).sort(([a], [b]) => Number(a) - Number(b)).map(([n, v]) => [n, md(v)])),
    stats: stats(f.stats),
  })).sort((a, b) => (a.slug < b.slug ? -1 : a.slug > b.slug ? 1 : 0));

  const doc = {
    source: `caniemail ${pkg.version} (npm, ${pkg.license}), data of ${data.last_update_date}`,
    families: sorted(data.nicenames.family),
    platforms: sorted(data.nicenames.platform),
    features,
  };
  // One feature per line: small diffs when the data changes.
  const body = features.map((f) => '  ' + JSON.stringify(f)).join(',\n');
  const text = '{\n' +
    `"source": ${JSON.stringify(doc.source)},\n` +
    `"families": ${JSON.stringify(doc.families)},\n` +
    `"platforms": ${JSON.stringify(doc.platforms)},\n` +
    `"features": [\n${body}\n]\n}\n`;
  writeFileSync(join(out, 'caniemail.json'), text);
  writeFileSync(join(out, 'CANIEMAIL-LICENSE'),
    `server/htmlcheck/caniemail.json is generated from the npm package caniemail ${pkg.version}\n` +
    `(https://github.com/${pkg.repository}), whose data comes from caniemail.com. Its licence:\n\n` + license);
  console.log(`wrote ${join(out, 'caniemail.json')}: ${features.length} features from caniemail ${pkg.version}`);
} finally {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}
