import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { FaceRestoreError } from '../errors.ts';

/** Fewest characters a token read from a file may have (a generated one has 22: 128 bits in base64url). */
export const MIN_TOKEN_CHARS = 16;
/** Most characters of a token (a longer file is not a token). */
export const MAX_TOKEN_CHARS = 1024;

/** A fresh random token (URL-safe base64, 128 bits: 22 characters). */
export function generateToken(): string {
  return randomBytes(16).toString('base64url');
}

/**
 * Whether a presented token is the expected one, in constant time: both are hashed first, so neither the
 * comparison nor an early length check tells an attacker how much of a guess was right.
 */
export function tokensEqual(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** Why a token (from a file or a flag) is refused, or undefined when it is fine. */
export function tokenProblem(token: string): string | undefined {
  if (token.length === 0) return 'is empty';
  if (token.length < MIN_TOKEN_CHARS) return `is ${token.length} characters long (at least ${MIN_TOKEN_CHARS}: e.g. \`openssl rand -base64 24\`)`;
  if (token.length > MAX_TOKEN_CHARS) return `is ${token.length} characters long (at most ${MAX_TOKEN_CHARS})`;
  if (/\s/.test(token)) return 'contains white space inside it';
  return undefined;
}

/**
 * Reads a shared secret from `file`: its content without the trailing newline (surrounding white space is
 * dropped). Refused with E_CONFIG, naming the file: a missing or unreadable file, an empty or too short token
 * (fewer than MIN_TOKEN_CHARS), and on POSIX a file every user may read (mode o+r: `chmod 600` it), since then
 * the token protects nothing.
 */
export async function readTokenFile(file: string): Promise<string> {
  let text: string;
  let mode: number;
  try {
    mode = (await stat(file)).mode;
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new FaceRestoreError('E_CONFIG', `cannot read token file ${file}: ${(e as Error).message}`, { cause: e });
  }
  if (process.platform !== 'win32' && (mode & 0o004) !== 0) {
    throw new FaceRestoreError('E_CONFIG', `token file ${file} is readable by every user (mode ${(mode & 0o777).toString(8)}): chmod 600 ${file}`);
  }
  const token = text.trim();
  const problem = tokenProblem(token);
  if (problem) throw new FaceRestoreError('E_CONFIG', `the token in ${file} ${problem}`);
  return token;
}
