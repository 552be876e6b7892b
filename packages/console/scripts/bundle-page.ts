/** Writes the page bundle to `dist/page/app.js` (run by the build after tsc compiled the package). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { bundlePage } from '../src/page-bundle.ts';

const out = new URL('../dist/page/', import.meta.url);
mkdirSync(out, { recursive: true });
writeFileSync(new URL('app.js', out), await bundlePage());
