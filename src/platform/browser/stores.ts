/** `zarrflow/stores` in browsers: the portable stores (no filesystem store; HTTP on fetch). */
export { MemoryStore } from "../../../stores/memory.js";
export { HttpStore, HttpStoreError, HttpRangeError } from "../../../stores/http.js";
export type { HttpStoreOptions, HttpRequest, HttpMethod, RetryOptions, HttpTransport, TransportRequest, TransportResponse } from "../../../stores/http.js";
export { fetchTransport, type FetchLike } from "../../../stores/http-transport-fetch.js";
export type { TransportOption } from "../../../stores/http-transport.js";
export type { Store, ByteRange, StoreCallOptions, WritableStore } from "../../store.js";
export { CountingStore, LatencyStore, type CallRecord } from "../../../stores/wrappers.js";
export { FaultStore, InjectedFaultError, type FaultKind, type FaultMethod, type FaultStoreOptions, type InjectedFault } from "../../../stores/fault.js";
export { ZipStore, ZipError, type ZipStoreOptions, type ZipEntry } from "../../../stores/zip.js";
export { S3Store, S3StoreError, S3AccessError, parseS3Location, type S3StoreOptions, type S3Location } from "../../../stores/s3.js";
export { S3CredentialsError, type S3Credentials } from "../../../stores/s3-credentials.js";
