import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Real ffmpeg, ONNX Runtime, Redis and Chromium run inside tests; a 2-core machine needs room.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: 'forks',
    fileParallelism: false,
    globalSetup: ['test/globalSetup.ts'],
  },
});
