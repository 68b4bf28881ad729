// Durations and sizes as config files write them: a number (ms or bytes) or a string
// such as "500ms", "5s", "2m", "1h", "1d" or "10MB" (MB = 2^20 bytes, as the design settles).

// The parsers are core's (one reading of durations and sizes for every layer); re-exported
// here so the fleet's imports keep working.
export { parseDuration, parseSize } from '../core/duration.js';

/** "1.5s", "3m", "2h" for status tables. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${Math.round(ms / 100) / 10}s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)}m`;
  if (ms < 86_400_000) return `${Math.floor(ms / 3_600_000)}h`;
  return `${Math.floor(ms / 86_400_000)}d`;
}

/** "12.3MB" for status tables. */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes}B`;
  if (bytes < 2 ** 20) return `${(bytes / 1024).toFixed(1)}KB`;
  if (bytes < 2 ** 30) return `${(bytes / 2 ** 20).toFixed(1)}MB`;
  return `${(bytes / 2 ** 30).toFixed(2)}GB`;
}
