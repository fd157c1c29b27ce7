// s3rver in its own process (started by s3rver.ts): its ListObjectsV2 continuation tokens use
// DES, which Node's OpenSSL 3 offers only with --openssl-legacy-provider; and its work must not
// share the test process's event loop. Sends { port } over IPC once it listens.
import S3rver from "s3rver";

const [directory, buckets, verbose] = process.argv.slice(2);
const server = new S3rver({
  address: "127.0.0.1",
  port: 0,
  silent: verbose !== "1",
  directory,
  configureBuckets: buckets.split(",").map((name) => ({ name, configs: [] })),
});
const address = await server.run();
process.send({ port: address.port });
process.on("disconnect", () => process.exit(0));
