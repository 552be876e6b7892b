/**
 * The page: one HTML shell and one script. A built package serves `dist/page/app.js`, bundled at
 * build time by `scripts/build-assets.ts`; run from the repository's sources, the same script
 * bundles `page/main.ts` in memory on start (esbuild, about 100 ms). Either way nothing is loaded
 * from a CDN: the console works offline.
 */
import { readFile } from 'node:fs/promises';

/** The HTML shell: the script does the rest. */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Herald console</title>
<style>
body{font:14px system-ui,sans-serif;margin:0;color:#111;background:#fafafa}
header{background:#1d2b3a;color:#fff;padding:8px 16px;display:flex;gap:16px;align-items:center}
header h1{font-size:16px;margin:0}
nav button{background:none;border:0;color:#dde;padding:6px 10px;font:inherit;cursor:pointer}
nav button[aria-current=page]{color:#fff;border-bottom:2px solid #7fc1ff}
main{padding:16px}
table{border-collapse:collapse;margin:8px 0}
th,td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
pre{background:#f0f0f0;padding:8px;overflow:auto;max-height:320px}
.failed{color:#a00000;font-weight:bold}
button,input,select{font:inherit}
:focus-visible{outline:2px solid #0057b8;outline-offset:2px}
</style>
</head>
<body><div id="app"></div><script type="module" src="/app.js"></script></body>
</html>
`;

/** The page script: the built bundle next to the compiled server, else a fresh bundle of the sources. */
export async function loadPageScript(): Promise<string> {
  try {
    return await readFile(new URL('../page/app.js', import.meta.url), 'utf8');
  } catch {
    // Sources only (the built package has the bundle): the bundler is a devDependency of the repo.
    const bundler = new URL('../scripts/build-assets.ts', import.meta.url).href;
    const { bundlePage } = (await import(bundler)) as { bundlePage: () => Promise<string> };
    return bundlePage();
  }
}
