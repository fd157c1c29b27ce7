/**
 * JSON for metadata documents with exact 64-bit integers, portable to every runtime.
 *
 * `JSON.parse` turns 18446744073709551615 into a double (18446744073709552000), and its reviver
 * only sees the source text (`context.source`) from Node 21 on. So: integers beyond 2^53 − 1
 * become `bigint`, everything else is what `JSON.parse` returns. A document without a long
 * integer literal (the common case) goes straight to `JSON.parse`; only the others take the
 * slower parser below. `stringifyJSON` writes `bigint` values back as plain JSON integers.
 */

/** An integer literal of 16 or more digits, outside any string (strings are matched first and skipped). */
const LONG_INTEGER = /"(?:[^"\\]|\\.)*"|-?\d{16,}(?![.eE\d])/g;

/** Nesting deeper than this is refused: a hostile document must not exhaust the stack. */
const MAX_DEPTH = 512;

export function parseJSON(text: string): unknown {
  if (!hasLongInteger(text)) return JSON.parse(text);
  return new Parser(text).document();
}

function hasLongInteger(text: string): boolean {
  LONG_INTEGER.lastIndex = 0;
  for (let m = LONG_INTEGER.exec(text); m !== null; m = LONG_INTEGER.exec(text)) {
    if (m[0][0] !== '"') return true;
  }
  return false;
}

const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
const STRING = /"(?:[^"\\\u0000-\u001f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"/y;
const WHITESPACE = /[ \t\n\r]*/y;

class Parser {
  private i = 0;
  constructor(private readonly text: string) {}

  document(): unknown {
    const value = this.value(0);
    this.skip();
    if (this.i !== this.text.length) this.fail("unexpected text after the document");
    return value;
  }

  private fail(message: string): never {
    throw new SyntaxError(`${message} at position ${this.i}`);
  }

  private skip(): void {
    WHITESPACE.lastIndex = this.i;
    WHITESPACE.exec(this.text);
    this.i = WHITESPACE.lastIndex;
  }

  private value(depth: number): unknown {
    if (depth > MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH}`);
    this.skip();
    const c = this.text[this.i];
    if (c === "{") return this.object(depth);
    if (c === "[") return this.array(depth);
    if (c === '"') return this.string();
    for (const [word, value] of WORDS) {
      if (this.text.startsWith(word, this.i)) {
        this.i += word.length;
        return value;
      }
    }
    return this.number();
  }

  private object(depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.i++;
    this.skip();
    if (this.text[this.i] === "}") {
      this.i++;
      return out;
    }
    for (;;) {
      this.skip();
      if (this.text[this.i] !== '"') this.fail("expected a string key");
      const key = this.string();
      this.skip();
      if (this.text[this.i] !== ":") this.fail('expected ":"');
      this.i++;
      // defineProperty: a "__proto__" key is data, as with JSON.parse, not a prototype change.
      Object.defineProperty(out, key, { value: this.value(depth + 1), enumerable: true, writable: true, configurable: true });
      this.skip();
      const c = this.text[this.i++];
      if (c === "}") return out;
      if (c !== ",") this.fail('expected "," or "}"');
    }
  }

  private array(depth: number): unknown[] {
    const out: unknown[] = [];
    this.i++;
    this.skip();
    if (this.text[this.i] === "]") {
      this.i++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth + 1));
      this.skip();
      const c = this.text[this.i++];
      if (c === "]") return out;
      if (c !== ",") this.fail('expected "," or "]"');
    }
  }

  private string(): string {
    STRING.lastIndex = this.i;
    const m = STRING.exec(this.text);
    if (!m) this.fail("invalid string");
    this.i = STRING.lastIndex;
    return JSON.parse(m[0]) as string;
  }

  private number(): number | bigint {
    NUMBER.lastIndex = this.i;
    const m = NUMBER.exec(this.text);
    if (!m) this.fail("unexpected character");
    this.i = NUMBER.lastIndex;
    const n = Number(m[0]);
    if (m[1] === undefined && m[2] === undefined && !Number.isSafeInteger(n)) return BigInt(m[0]);
    return n;
  }
}

const WORDS: [string, unknown][] = [
  ["true", true],
  ["false", false],
  ["null", null],
];

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
