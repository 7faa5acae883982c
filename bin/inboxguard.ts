#!/usr/bin/env node
import { main } from './cli.js';

void main(process.argv.slice(2)).then((code) => {
  // Let stdout drain, then exit even if a server left a socket half-open.
  process.stdout.write('', () => process.exit(code));
});
