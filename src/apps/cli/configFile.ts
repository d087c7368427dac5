/**
 * Defaults from a JSON config file: `--config file.json`, else `facerestore.config.json` in the current
 * folder when present. Top-level keys are flags (camelCase or as spelled on the command line, without
 * the dashes) and apply to every command that has that flag; a key named after a command (`"restore":
 * { … }`) holds flags for that command only. Values go through the same parsers as the flags, and flags
 * given on the command line win. Unknown keys and wrong types are refused (E_USAGE) with the file named.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type Command, type Option } from 'commander';
import { FaceRestoreError } from '../../errors.ts';

/** The file read when `--config` is not given, in the current folder. */
export const DEFAULT_CONFIG_FILE = 'facerestore.config.json';

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };

/** Leaf commands (those that run an action) under `program`, by their full name (`jobs submit`). */
function leafCommands(cmd: Command, prefix = ''): Map<string, Command> {
  const out = new Map<string, Command>();
  for (const c of cmd.commands) {
    const name = prefix ? `${prefix} ${c.name()}` : c.name();
    if (c.commands.length === 0) out.set(name, c);
    for (const [n, sub] of leafCommands(c, name)) out.set(n, sub);
  }
  return out;
}

const keyOf = (o: Option): string => o.attributeName();
const flagName = (o: Option): string => (o.long ?? '').replace(/^--(no-)?/, '');

/** Finds the option a config key names (`detectEvery` or `detect-every`; `progress` prefers the valued form). */
function findOption(cmd: Command, key: string): Option | undefined {
  const matches = cmd.options.filter((o) => keyOf(o) === key || flagName(o) === key);
  return matches.find((o) => !o.negate) ?? matches[0];
}

/** Adds `--config <file>` to every leaf command. */
export function addConfigOption(program: Command): void {
  for (const c of leafCommands(program).values()) c.option('--config <file>', `JSON file of defaults for these flags (default: ./${DEFAULT_CONFIG_FILE} when present)`);
}

/** Reads the config file for `cmd` (the command about to run) and applies its defaults. */
export function applyConfigFile(program: Command, cmd: Command, cwd = process.cwd()): void {
  const given = cmd.getOptionValue('config') as string | undefined;
  const file = given ?? (existsSync(path.join(cwd, DEFAULT_CONFIG_FILE)) ? path.join(cwd, DEFAULT_CONFIG_FILE) : undefined);
  if (!file) return;
  let doc: Json;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8')) as Json;
  } catch (e) {
    throw new FaceRestoreError('E_USAGE', `config file ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : `not valid JSON (${(e as Error).message})`}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new FaceRestoreError('E_USAGE', `config file ${file}: expected a JSON object of flag defaults`);
  const leaves = leafCommands(program);
  const name = [...leaves].find(([, c]) => c === cmd)?.[0] ?? cmd.name();
  const allFlags = new Set([...leaves.values()].flatMap((c) => c.options.flatMap((o) => [keyOf(o), flagName(o)])));
  // Top-level flags first, then the command's own section (which wins).
  const entries: Array<[string, Json, boolean]> = [];
  for (const [k, v] of Object.entries(doc)) {
    if (leaves.has(k) && !(allFlags.has(k) && (v === null || typeof v !== 'object'))) { // "track": {…} is a section, "track": false a flag
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new FaceRestoreError('E_USAGE', `config file ${file}: "${k}" must be an object of flags for facerestore ${k}`);
      for (const key of Object.keys(v)) {
        if (!findOption(leaves.get(k)!, key) || key === 'config') throw new FaceRestoreError('E_USAGE', `config file ${file}: unknown key "${k}.${key}" (facerestore ${k} has no --${key}; see facerestore ${k} --help)`);
      }
      continue;
    }
    if (!allFlags.has(k) || k === 'config') throw new FaceRestoreError('E_USAGE', `config file ${file}: unknown key "${k}" (not a flag of any command; see facerestore <command> --help)`);
    entries.push([k, v, false]);
  }
  const own = doc[name];
  if (own && typeof own === 'object' && !Array.isArray(own)) for (const [k, v] of Object.entries(own)) entries.push([k, v, true]);
  for (const [k, v, strict] of entries) {
    const opt = findOption(cmd, k);
    if (!opt || k === 'config') continue; // a shared default for a flag this command does not have (sections were checked above)
    const attr = keyOf(opt);
    const value = configValue(opt, v, `config file ${file}: "${strict ? `${name}.` : ''}${k}"`, cmd.getOptionValue(attr)); // checked even when unused
    const source = cmd.getOptionValueSource(attr);
    if (source !== undefined && source !== 'default' && source !== 'config') continue; // the command line wins
    cmd.setOptionValueWithSource(attr, value, 'config');
  }
}

/** A config value checked and converted as the flag's own parser does it. */
function configValue(opt: Option, v: Json, where: string, previous: unknown): unknown {
  const valued = opt.required || opt.optional;
  if (!valued) {
    if (typeof v !== 'boolean') throw new FaceRestoreError('E_USAGE', `${where}: expected true or false but received ${JSON.stringify(v)}`);
    return v; // `"track": false` is `--no-track`, `"deterministic": true` is `--deterministic`
  }
  if (opt.optional && typeof v === 'boolean') return v;
  const values = opt.variadic && Array.isArray(v) ? v : [v];
  let out: unknown = previous;
  for (const one of values) {
    if (typeof one !== 'string' && typeof one !== 'number') throw new FaceRestoreError('E_USAGE', `${where}: expected a string or a number but received ${JSON.stringify(one)}`);
    try {
      out = opt.parseArg ? opt.parseArg(String(one), out) : String(one);
    } catch (e) {
      throw new FaceRestoreError('E_USAGE', `${where}: ${(e as Error).message}`);
    }
  }
  return out;
}
