/**
 * numcodecs Categorize (v2 filter `categorize`): strings stored as integer codes, 1..n for the
 * labels in order. Code 0, or any code past the labels, decodes to "" (as numcodecs does).
 */
import { MetadataError } from "../errors.js";
import { DATA_TYPES, allocate, parseV2DataType, type DataType } from "../dtype.js";
import type { NdArray } from "../ndarray.js";
import type { ArrayToArrayCodec, ChunkSpec, CodecMetadata } from "./codec.js";
import { ConfigReader } from "./config.js";
import { registerCodec } from "./registry.js";

export class CategorizeCodec implements ArrayToArrayCodec {
  readonly kind = "array_to_array";
  readonly name = "numcodecs.categorize";
  private readonly codes = new Map<string, number>();

  constructor(
    readonly labels: readonly string[],
    readonly astype: DataType,
    private readonly config: Record<string, unknown>,
  ) {
    labels.forEach((label, i) => {
      if (!this.codes.has(label)) this.codes.set(label, i + 1);
    });
  }

  resolveSpec(input: ChunkSpec): ChunkSpec {
    return { shape: input.shape, dataType: this.astype, fillValue: 0 };
  }

  encode(array: NdArray): NdArray {
    const values = array.data as unknown as unknown[];
    const out = allocate(this.astype, values.length) as Uint8Array;
    for (let i = 0; i < values.length; i++) out[i] = this.codes.get(values[i] as string) ?? 0;
    return { data: out, shape: array.shape, dtype: this.astype };
  }

  decode(array: NdArray, spec: ChunkSpec): NdArray {
    const codes = array.data;
    const out = new Array<string>(codes.length);
    for (let i = 0; i < codes.length; i++) {
      const code = Number(codes[i]);
      out[i] = code >= 1 && code <= this.labels.length ? this.labels[code - 1] : "";
    }
    return { data: out as never, shape: array.shape, dtype: spec.dataType };
  }

  toJSON(): CodecMetadata {
    return { name: this.name, configuration: this.config };
  }
}

registerCodec("numcodecs.categorize", (configuration, input, context) => {
  const config = new ConfigReader("categorize", configuration, context, ["labels", "dtype", "astype"]);
  if (input.dataType !== "string") config.fail(`encodes strings, not ${input.dataType}`);
  const labels = config.raw("labels");
  if (!Array.isArray(labels) || !labels.every((l) => typeof l === "string")) config.fail(`"labels" must be a list of strings`);
  let astype: DataType;
  try {
    astype = parseV2DataType(config.raw("astype") ?? "|u1", context).dataType;
  } catch (error) {
    if (error instanceof MetadataError) config.fail(`"astype" ${error.detail}`);
    throw error;
  }
  const { kind } = DATA_TYPES[astype];
  if (kind !== "u" && kind !== "i") config.fail(`"astype" must be an integer type, got ${JSON.stringify(config.raw("astype"))}`);
  if (DATA_TYPES[astype].itemsize > 4) config.fail(`"astype" wider than 32 bits is not supported, got ${JSON.stringify(config.raw("astype"))}`);
  if ((labels as string[]).length >= 2 ** (DATA_TYPES[astype].itemsize * 8 - (kind === "i" ? 1 : 0))) {
    config.fail(`${(labels as string[]).length} labels do not fit in ${astype}`);
  }
  return new CategorizeCodec(labels as string[], astype, { ...configuration });
});
