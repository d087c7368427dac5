/** Types of sourceStamp.mjs (plain JavaScript: the launcher runs before any TypeScript can). */
export declare const STAMP_FILE: string;
export declare function sourceStamp(srcDir: string): { files: number; digest: string };
export declare function buildIsFresh(srcDir: string, buildDir: string): boolean;
