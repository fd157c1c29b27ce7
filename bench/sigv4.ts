/**
 * What SigV4 signing costs per request: aws4fetch's signer (WebCrypto, the one S3Store uses)
 * against the same computation with node:crypto's synchronous HMAC (the test proxy's verifier,
 * as a stand-in for a hand-rolled signer). Run: npx tsx bench/sigv4.ts
 */
import { performance } from "node:perf_hooks";

import { AwsV4Signer } from "aws4fetch";

import { checkSigV4 } from "../test/helpers/s3-proxy.js";

const N = 5000;
const cache = new Map<string, ArrayBuffer>();
const url = "http://127.0.0.1:9000/bucket/prefix/array/c/0/1/2";
const headers = { range: "bytes=0-1023", "x-amz-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" };

async function signOnce(): Promise<Headers> {
  const signer = new AwsV4Signer({ method: "GET", url, headers, accessKeyId: "AKID", secretAccessKey: "SECRET", service: "s3", region: "us-east-1", cache });
  return (await signer.sign()).headers;
}

for (let i = 0; i < 500; i++) await signOnce();
let start = performance.now();
let last: Headers | undefined;
for (let i = 0; i < N; i++) last = await signOnce();
const aws4fetchUs = ((performance.now() - start) * 1000) / N;

const signed: Record<string, string> = {};
last!.forEach((value, name) => (signed[name] = value));
const plain = { ...signed, host: "127.0.0.1:9000" };
const body = Buffer.alloc(0);
if (checkSigV4("GET", "/bucket/prefix/array/c/0/1/2", plain, body, { AKID: "SECRET" }) !== undefined) throw new Error("the two implementations disagree");
start = performance.now();
for (let i = 0; i < N; i++) checkSigV4("GET", "/bucket/prefix/array/c/0/1/2", plain, body, { AKID: "SECRET" });
const nodeUs = ((performance.now() - start) * 1000) / N;

console.log(JSON.stringify({ requests: N, aws4fetchMicrosecondsPerRequest: Number(aws4fetchUs.toFixed(1)), nodeCryptoMicrosecondsPerRequest: Number(nodeUs.toFixed(1)) }));
