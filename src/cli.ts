#!/usr/bin/env node
/** The one binary. Only `relay` exists yet; the MCP server (no arguments) comes next. */

const [command, ...rest] = process.argv.slice(2);

if (command === 'relay') {
  // Imported on demand so other commands do not load the HTTP server.
  const { runRelayCli } = await import('./relay/cli.js');
  process.exitCode = await runRelayCli(rest);
} else {
  process.stderr.write('not implemented\n');
  process.exitCode = 2;
}
