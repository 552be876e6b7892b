/**
 * The publishable workspace packages: every `packages/<name>` whose package.json is not private, in
 * dependency order (a package comes after the Herald packages it depends on). Shared by the build
 * (`npm run build`) and the consumer test, so a new package under packages/ is picked up by both
 * without changes.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The repository root. */
export const ROOT: string = join(import.meta.dirname, '..');

/** One publishable package. */
export interface WorkspacePackage {
  /** Its npm name, e.g. `@herald/bus`. */
  readonly name: string;
  /** Its version. */
  readonly version: string;
  /** Its directory (absolute). */
  readonly dir: string;
  /** The names of the publishable packages it depends on (dependencies and peerDependencies). */
  readonly internalDependencies: readonly string[];
}

interface Manifest {
  readonly name: string;
  readonly version: string;
  readonly private?: boolean;
  readonly dependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
}

/** The non-private packages under packages/, each after its internal dependencies. */
export function publicPackages(root: string = ROOT): WorkspacePackage[] {
  const packagesDir = join(root, 'packages');
  const manifests = readdirSync(packagesDir)
    .map((entry) => join(packagesDir, entry))
    .filter((dir) => existsSync(join(dir, 'package.json')))
    .map((dir) => ({
      dir,
      manifest: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest,
    }));
  const privateNames = new Set(
    manifests.filter(({ manifest }) => manifest.private === true).map(({ manifest }) => manifest.name),
  );
  const publicManifests = manifests.filter(({ manifest }) => manifest.private !== true);
  for (const { manifest } of publicManifests) {
    const privateDependencies = Object.keys({
      ...manifest.dependencies,
      ...manifest.peerDependencies,
    }).filter((name) => privateNames.has(name));
    if (privateDependencies.length > 0) {
      throw new Error(
        `${manifest.name} depends on ${privateDependencies.join(', ')}, which is private: make it public ` +
          '(drop "private"; exports, files, license, engines as in packages/log/package.json)',
      );
    }
  }
  const names = new Set(publicManifests.map(({ manifest }) => manifest.name));
  const unordered = publicManifests.map(({ dir, manifest }) => ({
    name: manifest.name,
    version: manifest.version,
    dir,
    internalDependencies: Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies }).filter(
      (name) => names.has(name),
    ),
  }));
  const ordered: WorkspacePackage[] = [];
  const placed = new Set<string>();
  // At most one pass per package: each pass places at least one package unless there is a cycle.
  for (let pass = 0; pass < unordered.length && ordered.length < unordered.length; pass++) {
    for (const workspacePackage of unordered) {
      if (placed.has(workspacePackage.name)) continue;
      if (!workspacePackage.internalDependencies.every((name) => placed.has(name))) continue;
      ordered.push(workspacePackage);
      placed.add(workspacePackage.name);
    }
  }
  if (ordered.length < unordered.length) {
    const stuck = unordered.filter(({ name }) => !placed.has(name)).map(({ name }) => name);
    throw new Error(`dependency cycle among ${stuck.join(', ')}: break it before building`);
  }
  return ordered;
}
