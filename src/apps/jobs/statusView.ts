import path from 'node:path';
import type { JobStatus } from './JobQueue.ts';

/** `75` → `1m15s`; null → `-`. */
export function formatSeconds(s: number | null): string {
  if (s === null || !Number.isFinite(s)) return '-';
  const r = Math.round(s);
  if (r < 60) return `${r}s`;
  if (r < 3600) return `${Math.floor(r / 60)}m${String(r % 60).padStart(2, '0')}s`;
  return `${Math.floor(r / 3600)}h${String(Math.floor((r % 3600) / 60)).padStart(2, '0')}m`;
}

/** True when a job will not change any more. */
export function isFinished(s: Pick<JobStatus, 'state'>): boolean {
  return s.state === 'completed' || s.state === 'failed' || s.state === 'unknown' || s.state === 'lost';
}

/** A plain-text table of jobs (one line each, the reason under a failed one). */
export function formatStatusTable(list: readonly JobStatus[]): string {
  if (list.length === 0) return 'no jobs\n';
  const rows = list.map((s) => [
    s.id,
    displayName(s),
    s.state,
    `${s.segments.done}/${s.segments.total}`,
    `${s.frames.done}/${s.frames.total === null ? '?' : `${s.frames.exact ? '' : '~'}${s.frames.total}`}`,
    s.fps === null ? '-' : s.fps.toFixed(1),
    s.state === 'completed' ? formatSeconds(s.elapsedSeconds) : formatSeconds(s.etaSeconds),
    s.workers.join(',') || '-',
  ]);
  const head = ['JOB', 'FILE', 'STATE', 'SEGMENTS', 'FRAMES', 'FPS', 'ETA/TOOK', 'WORKERS'];
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) => cells.map((x, c) => x.padEnd(widths[c]!)).join('  ').trimEnd();
  const out = [line(head)];
  list.forEach((s, i) => {
    out.push(line(rows[i]!));
    if (s.reason) out.push(`  reason: ${s.reason}`);
    if (s.state === 'completed') out.push(`  output: ${s.output}`);
  });
  return out.join('\n') + '\n';
}

/** The basename of a job's input, for tables. */
export function displayName(s: Pick<JobStatus, 'input'>): string {
  return path.basename(s.input);
}
