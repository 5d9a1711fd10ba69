// Loaded with `node --import` into a server under test (bench/alloc-probe.ts): on SIGUSR2 it
// writes the number of GCs so far and the young generation's bytes in use to
// <tmpdir>/nexus-heap-<pid>.json. Measurement only; never part of the server.
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';

let gcs = 0;
new PerformanceObserver((list) => {
  gcs += list.getEntries().length;
}).observe({ entryTypes: ['gc'] });

process.on('SIGUSR2', () => {
  let young = 0;
  for (const space of getHeapSpaceStatistics())
    if (space.space_name === 'new_space' || space.space_name === 'new_large_object_space')
      young += space.space_used_size;
  writeFileSync(join(tmpdir(), `nexus-heap-${process.pid}.json`), JSON.stringify({ gcs, young }));
});
