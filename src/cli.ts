#!/usr/bin/env node
/**
 * The binary's entry. It checks the Node version before anything else is loaded: static
 * imports are evaluated before a module's first line runs, and on an older Node they fail with
 * errors that name anything but the version. So this file imports nothing, uses only syntax
 * every Node release with ES modules parses, and loads the real program dynamically.
 */
// 22.13: the first 22 with node:sqlite unflagged (the relay's default store); package.json agrees.
const MIN_MAJOR = 22;
const MIN_MINOR = 13;
const found = process.versions.node;
const [major = 0, minor = 0] = found.split('.').map(Number);
if (major < MIN_MAJOR || (major === MIN_MAJOR && minor < MIN_MINOR)) {
  process.stderr.write(
    `nexus-messaging-mcp needs Node.js ${MIN_MAJOR}.${MIN_MINOR} or newer (found v${found}): install it with \`nvm install ${MIN_MAJOR}\` or from https://nodejs.org, then restart your MCP host (GUI hosts run the first node on their PATH).\n`,
  );
  process.exit(1);
} else {
  // V8's compile cache (Node >= 22.1, in the OS temp dir): a host starts every configured server
  // at launch, and compiling the MCP SDK and our modules afresh was ~27 ms of each start.
  import('node:module')
    .then((module) => module.enableCompileCache?.())
    .then(() => import('./main.js'))
    .then((main) => main.runCli(process.argv.slice(2)));
}
