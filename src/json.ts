/**
 * JSON for metadata documents with exact 64-bit integers, portable to every runtime.
 *
 * `JSON.parse` turns 18446744073709551615 into a double (18446744073709552000), and its reviver
 * only sees the source text (`context.source`) from Node 21 on. So: integers beyond 2^53 − 1
 * become `bigint`, everything else is what `JSON.parse` returns. A document without a long
 * integer literal (the common case) goes straight to `JSON.parse`; the others take one pass of
 * rewriting first. `stringifyJSON` writes `bigint` values back as plain JSON integers.
 */

/**
 * A string (skipped), or an integer literal of 16 or more digits outside any string: not part
 * of a fraction or exponent, and without a leading zero (left for JSON.parse to refuse).
 */
const LONG_INTEGER = /"(?:[^"\\]|\\.)*"|(?<![\d.eE+-])-?[1-9]\d{15,}(?![.eE\d])/g;

/**
 * Parses a metadata document. A long integer literal is first turned into a string carrying a
 * per-call random tag (which no document can predict), then `JSON.parse` runs — natively, so
 * syntax errors and deep nesting are handled as for any document — and a reviver turns tagged
 * strings back into numbers: a bigint beyond 2^53 − 1, a number otherwise.
 */
export function parseJSON(text: string): unknown {
  let tag: string | undefined;
  const tagged = text.replace(LONG_INTEGER, (token) => {
    if (token[0] === '"') return token;
    tag ??= newTag(text);
    // The tag's control character, escaped as JSON requires inside a string.
    return `"\\u0001${tag.slice(1)}${token}"`;
  });
  if (tag === undefined) return JSON.parse(text);
  const marker = tag;
  try {
    return JSON.parse(tagged, (_key, value: unknown) => {
      if (typeof value !== "string" || !value.startsWith(marker)) return value;
      const digits = value.slice(marker.length);
      const n = Number(digits);
      return Number.isSafeInteger(n) ? n : BigInt(digits);
    });
  } catch (error) {
    // The reviver walks the tree recursively: a document nested thousands deep ends here.
    if (error instanceof RangeError) throw new SyntaxError(`the document is nested too deeply: ${error.message}`);
    throw error;
  }
}

/** A tag that cannot occur in `text`: JSON strings escape control characters, so a decoded one only comes from an escape. */
function newTag(text: string): string {
  for (;;) {
    const nonce = Math.random().toString(36).slice(2) + Date.now().toString(36);
    if (!text.includes(nonce)) return `\u0001${nonce}:`;
  }
}

/**
 * `JSON.stringify`, except that a `bigint` is written as a JSON integer (JSON.stringify throws
 * on one). Each bigint goes out as a marker string with a per-call random tag, then the quoted
 * markers are replaced by their digits.
 */
export function stringifyJSON(value: unknown, indent?: number): string {
  // Without bigints, the plain call: a replacer puts V8 on a slower path that also recurses
  // more deeply per level (deeply nested hostile documents must still get their error message).
  try {
    return JSON.stringify(value, null, indent);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
  }
  let tag: string | undefined;
  const text = JSON.stringify(
    value,
    (_key, v: unknown) => {
      if (typeof v !== "bigint") return v;
      tag ??= `\u0001bigint${Math.random().toString(36).slice(2)}${Date.now().toString(36)}:`;
      return `${tag}${v.toString()}`;
    },
    indent,
  );
  if (tag === undefined) return text;
  // The tag's control character is written as \u0001 inside the JSON string.
  const marker = JSON.stringify(tag).slice(1, -1);
  return text.split(`"${marker}`).map((part, i) => (i === 0 ? part : part.replace(/^(-?\d+)"/, "$1"))).join("");
}
