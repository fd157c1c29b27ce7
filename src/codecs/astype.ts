/**
 * `numcodecs.astype` (v2 filter `astype`): stores the data cast to `encode_dtype` (NumPy cast
 * rules: float → int truncates, float64 → float32 rounds to nearest even) and casts it back to
 * `decode_dtype` when read. Lossy by design when the stored type is narrower.
 */
import type { DataType } from "../dtype.js";
import type { NdArray } from "../ndarray.js";
import type { ArrayToArrayCodec, ChunkSpec, CodecMetadata } from "./codec.js";
import { ConfigReader } from "./config.js";
import { castScalar, castTyped, isRealType, numpyType, numpyTypestring } from "./numeric.js";
import { registerCodec } from "./registry.js";

export class AsTypeCodec implements ArrayToArrayCodec {
  readonly kind = "array_to_array";
  readonly name = "numcodecs.astype";

  constructor(
    readonly encodeType: DataType,
    readonly decodeType: DataType,
  ) {}

  resolveSpec(input: ChunkSpec): ChunkSpec {
    return { ...input, dataType: this.encodeType, fillValue: castScalar(input.fillValue, input.dataType, this.encodeType) };
  }

  encode(array: NdArray): NdArray {
    return { data: castTyped(array.data, array.dtype, this.encodeType), shape: array.shape, dtype: this.encodeType };
  }

  decode(array: NdArray, spec: ChunkSpec): NdArray {
    return { data: castTyped(array.data, this.encodeType, spec.dataType), shape: spec.shape, dtype: spec.dataType };
  }

  toJSON(): CodecMetadata {
    return { name: this.name, configuration: { encode_dtype: numpyTypestring(this.encodeType), decode_dtype: numpyTypestring(this.decodeType) } };
  }
}

registerCodec("numcodecs.astype", (configuration, input, context) => {
  const config = new ConfigReader("numcodecs.astype", configuration, context, ["encode_dtype", "decode_dtype"]);
  const encodeType = numpyType(config, "encode_dtype").dataType;
  const decodeType = numpyType(config, "decode_dtype", input.dataType).dataType;
  if (!isRealType(input.dataType)) config.fail(`works on integer, float and bool data, not ${input.dataType}`);
  return new AsTypeCodec(encodeType, decodeType);
});
