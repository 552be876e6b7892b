/**
 * Bundles the console page (`page/main.ts`: Preact, htm and the views) into one minified ES
 * module with esbuild. The build runs it as a script to write `dist/page/app.js`; run from the
 * repository's sources, the server imports {@link bundlePage} to bundle in memory on start.
 * esbuild, Preact and htm are devDependencies: an installed package serves the built bundle.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** The page's entry module. */
const PAGE_ENTRY = fileURLToPath(new URL('../page/main.ts', import.meta.url));

/** The page script, bundled from its sources. */
export async function bundlePage(): Promise<string> {
  const result = await build({
    entryPoints: [PAGE_ENTRY],
    bundle: true,
    format: 'esm',
    minify: true,
    write: false,
    target: 'es2022',
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = new URL('../dist/page/', import.meta.url);
  mkdirSync(out, { recursive: true });
  writeFileSync(new URL('app.js', out), await bundlePage());
}
