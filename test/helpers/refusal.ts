import { expect } from 'vitest';
import { isFaceRestoreError } from '../../src/errors.ts';

/** The E_CHECKPOINT message with which `check` refuses `shapes`; fails the test when it accepts them. */
export function checkpointRefusal(check: (shapes: Map<string, number[]>) => unknown, shapes: Map<string, number[]>, what: string): string {
  try {
    check(shapes);
  } catch (e) {
    expect(isFaceRestoreError(e, 'E_CHECKPOINT'), String(e)).toBe(true);
    return (e as Error).message;
  }
  throw new Error(`expected the ${what} check to refuse these tensors`);
}
