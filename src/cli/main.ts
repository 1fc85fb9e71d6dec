#!/usr/bin/env node
// Entry point of the `registry` command. It only tunes V8 before any other module loads, then
// runs the command line (program.ts): imports are hoisted, so the tuning cannot live there.
// Test helpers that preload the program (test/helpers/warm-serve.ts) set the same flag.
import { setFlagsFromString } from 'node:v8';

// V8 grows the young generation up to 16 MiB per semi-space while modules load and under
// bursts, and keeps it: 20+ MB of resident memory a registry never needs (its requests
// allocate little per call). Keeping the semi-space at its initial size costs more frequent,
// shorter scavenges. An explicit --max-semi-space-size or growth factor from the operator wins.
const nodeFlags = [...process.execArgv, process.env['NODE_OPTIONS'] ?? ''].join(' ');
if (!/semi[-_]space/.test(nodeFlags)) setFlagsFromString('--semi-space-growth-factor=1');

const { runCli } = await import('./program.js');
// Not awaited: a command that ends with work still running (a server) must not leave a pending
// top-level await behind, which Node reports as exit code 13 when the event loop drains.
void runCli(process.argv);
