/** Registers every built-in codec and re-exports the codec API. */
import "./bytes.js";
import "./transpose.js";
import "./gzip.js";
import "./zlib.js";
import "./crc32c.js";
import "./zstd.js";
import "./blosc.js";
import "./lz4.js";
import "./sharding.js";
import "./vlen-utf8.js";
import "./vlen-bytes.js";
import "./vlen-array.js";
import "./categorize.js";
import "./json2.js";

export * from "./codec.js";
export { CodecChain } from "./chain.js";
export { registerCodec, getCodecFactory, registeredCodecs } from "./registry.js";
export { crc32c } from "./crc32c.js";
export { setDeflateBackend, deflateBackend } from "./deflate-backend.js";
export { ZSTD_IMPLEMENTATION } from "./zstd.js";
export { ShardingCodec, ShardIndex, mortonOrder, DEFAULT_INDEX_CODECS, type IndexLocation, type ShardEncodeOptions, type ShardingConfiguration } from "./sharding.js";
