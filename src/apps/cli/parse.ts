import { InvalidArgumentError } from 'commander';

/** Commander parser for a number within [min, max]. */
export function numberIn(min: number, max: number, integer = false): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
      throw new InvalidArgumentError(`Expected ${integer ? 'an integer' : 'a number'} in [${min}, ${max}] but received '${value}'.`);
    }
    return n;
  };
}

/** Commander parser for one of a fixed set of words. */
export function oneOf<T extends string>(...choices: T[]): (value: string) => T {
  return (value: string) => {
    if (!(choices as string[]).includes(value)) throw new InvalidArgumentError(`Expected one of ${choices.join(', ')} but received '${value}'.`);
    return value as T;
  };
}
