#!/usr/bin/env node
// dist/cli/rpcl.mjs is the bundle of dist/cli/main.js (scripts/bundle.mjs): the same code,
// started faster. A tree built by tsc alone still runs, unbundled.
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/cli/rpcl.mjs', import.meta.url);
const { main } = await import(existsSync(bundle) ? bundle.href : '../dist/cli/main.js');
process.exitCode = await main(process.argv.slice(2));
