import { defineConfig } from 'vitest/config';

// The tests run what users run, on the Node the package needs: say so instead of 70 failures.
const [nodeMajor = 0, nodeMinor = 0] = process.versions.node.split('.').map(Number);
if (nodeMajor < 22 || (nodeMajor === 22 && nodeMinor < 13)) {
  throw new Error(
    `nexus-messaging-mcp needs Node.js 22.13 or newer (found v${process.versions.node}): run \`nvm install 22\`, then the tests again.`,
  );
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Tests spawn relays and MCP servers as child processes; give them room on a 2-core CI box.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
