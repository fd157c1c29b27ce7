/** Codec registry: names (as in metadata) → factories. */
import { UnknownCodecError, type ErrorContext } from "../errors.js";
import type { CodecFactory } from "./codec.js";

const factories = new Map<string, CodecFactory>();

/** Registers a codec under one or more names ("zlib" and "numcodecs.zlib", say). */
export function registerCodec(names: string | string[], factory: CodecFactory): void {
  for (const name of Array.isArray(names) ? names : [names]) factories.set(name, factory);
}

export function getCodecFactory(name: string, context: ErrorContext = {}): CodecFactory {
  const factory = factories.get(name);
  if (!factory) throw new UnknownCodecError(name, context);
  return factory;
}

export function registeredCodecs(): string[] {
  return [...factories.keys()].sort();
}
