/** Validation helpers for codec configurations: bad configuration is a MetadataError naming the codec. */
import { MetadataError, type ErrorContext } from "../errors.js";
import { stringifyJSON } from "../json.js";

export class ConfigReader {
  constructor(
    private readonly codec: string,
    private readonly config: Record<string, unknown>,
    private readonly context: ErrorContext,
    allowed: readonly string[],
  ) {
    if (typeof config !== "object" || config === null || Array.isArray(config)) {
      this.fail(`configuration must be an object`);
    }
    for (const key of Object.keys(config)) {
      if (!allowed.includes(key)) this.fail(`unknown configuration key "${key}"`);
    }
  }

  fail(message: string): never {
    throw new MetadataError(`codec "${this.codec}": ${message}`, this.context);
  }

  has(key: string): boolean {
    return this.config[key] !== undefined && this.config[key] !== null;
  }

  integer(key: string, fallback: number | undefined, min = -Infinity, max = Infinity): number {
    const value = this.config[key] ?? fallback;
    if (value === undefined) this.fail(`"${key}" is required`);
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      this.fail(`"${key}" must be an integer in [${min}, ${max}], got ${stringifyJSON(value)}`);
    }
    return value;
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.config[key] ?? fallback;
    if (typeof value !== "boolean") this.fail(`"${key}" must be a boolean, got ${stringifyJSON(value)}`);
    return value;
  }

  oneOf<T extends string | number>(key: string, choices: readonly T[], fallback: T | undefined): T {
    const value = this.config[key] ?? fallback;
    if (!choices.includes(value as T)) {
      this.fail(`"${key}" must be one of ${choices.map((c) => stringifyJSON(c)).join(", ")}, got ${stringifyJSON(value)}`);
    }
    return value as T;
  }

  raw(key: string): unknown {
    return this.config[key];
  }
}
