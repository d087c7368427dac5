import { execFile } from 'node:child_process';
import { repo } from './paths.ts';

/** What a CLI run printed and how it exited. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real CLI (bin/facerestore.mjs) as a child process, with `env` added to this process's environment;
 * killed after `timeoutMs` (default: none).
 */
export function runFacerestore(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 0): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [repo('bin/facerestore.mjs'), ...args], { maxBuffer: 64 << 20, env: { ...process.env, ...env }, timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
