#!/usr/bin/env node
// Entry point of the `registry` command. It only tunes V8 before any other module loads, then
// runs the command line (program.ts): imports are hoisted, so the tuning cannot live there.
import { setFlagsFromString } from 'node:v8';

// V8 grows the young generation up to 16 MiB per semi-space while modules load and under
// bursts, and keeps it: 20+ MB of resident memory a registry never needs (its requests
// allocate little per call). Keeping the semi-space at its initial size costs more frequent,
// shorter scavenges. An explicit --max-semi-space-size or growth factor from the operator wins.
const nodeFlags = [...process.execArgv, process.env['NODE_OPTIONS'] ?? ''].join(' ');
if (!/semi[-_]space/.test(nodeFlags)) setFlagsFromString('--semi-space-growth-factor=1');

await import('./program.js');
