import { defineConfig } from 'vitest/config';

// The tests run what users run, on the Node the package needs: say so instead of 70 failures.
const nodeMajor = Number(process.versions.node.split('.')[0]);
if (nodeMajor < 22) {
  throw new Error(
    `nexus-messaging-mcp needs Node.js 22 or newer (found v${process.versions.node}): run \`nvm install 22\`, then the tests again.`,
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
