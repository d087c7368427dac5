/** The parts of an HTTP request target that handlers route on. */
export interface RequestTarget {
  /** Path, dot segments resolved, percent-escapes left as they came (decode a segment with `decodePathSegment`). */
  pathname: string;
  searchParams: URLSearchParams;
}

/**
 * Parses an HTTP request target (`req.url`) without ever throwing: origin form (`/path?query`) and
 * absolute form (`http://host/path`) give their path and query; anything else gives undefined, which
 * handlers answer with 400. Malformed are: a target the URL parser refuses (`http://[::1`), one starting
 * with `//` (URL parsers read that as a host, not a path: `//[` throws in `new URL(target, base)`), and a
 * path with a broken percent-escape (`/%E0%A4%A`). `new URL(req.url, base)` alone is not enough: Node's
 * HTTP parser passes such targets through, and an exception in a request or upgrade handler takes the
 * server down.
 */
export function parseRequestTarget(target: string | undefined): RequestTarget | undefined {
  if (target === undefined || target === '') return undefined;
  try {
    let url: URL;
    if (target.startsWith('/')) {
      if (target.startsWith('//')) return undefined;
      // The host is fixed here, so whatever follows can only be path and query.
      url = new URL(`http://localhost${target}`);
    } else if (/^https?:\/\//i.test(target)) {
      url = new URL(target);
    } else {
      return undefined; // asterisk form (OPTIONS *), authority form (CONNECT host:port)
    }
    if (BROKEN_ESCAPE.test(url.pathname)) return undefined;
    return { pathname: url.pathname, searchParams: url.searchParams };
  } catch {
    return undefined;
  }
}

/** A `%` not followed by two hex digits. */
const BROKEN_ESCAPE = /%(?![0-9A-Fa-f]{2})/;

/** A percent-decoded path segment, or undefined when it is malformed (`%zz`, or escapes that are not UTF-8 such as `%E0%A4`). */
export function decodePathSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
