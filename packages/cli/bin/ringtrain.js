#!/usr/bin/env node
// The ringtrain command. Sources are TypeScript run directly: register tsx's ESM loader, then
// hand over to src/main.ts.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv);
