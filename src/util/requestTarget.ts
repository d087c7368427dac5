/** The parts of an HTTP request target that handlers route on. */
export interface RequestTarget {
  /** Path, dot segments resolved, percent-escapes left as they came (decode a segment with `decodePathSegment`). */
  pathname: string;
  searchParams: URLSearchParams;
}

/**
 * Parses an HTTP request target (`req.url`) without ever throwing: origin form (`/path?query`) and
 * absolute form (`http://host/path`) give their path and query; anything else, or a target the URL parser
 * refuses, gives undefined, which handlers answer with 400. `new URL(req.url, base)` is not enough:
 * Node's HTTP parser passes targets such as `http://[::1` and `//[` through, and `new URL` throws on them
 * (a `//` target is read as a host), which in a request or upgrade handler takes the server down.
 */
export function parseRequestTarget(target: string | undefined): RequestTarget | undefined {
  if (target === undefined || target === '') return undefined;
  try {
    // Origin form: the host is fixed here, so whatever follows can only be path and query.
    const url = target.startsWith('/') ? new URL(`http://localhost${target}`) : /^https?:\/\//i.test(target) ? new URL(target) : undefined;
    return url && { pathname: url.pathname, searchParams: url.searchParams };
  } catch {
    return undefined;
  }
}

/** A percent-decoded path segment, or undefined when its escapes are malformed (`%E0%A4%A`: decodeURIComponent throws). */
export function decodePathSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
