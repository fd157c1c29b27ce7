/**
 * Where an S3 store's credentials and region come from, in the standard order: explicit
 * options, then the environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
 * `AWS_SESSION_TOKEN`), then a profile from `~/.aws/credentials` and `~/.aws/config` (Node
 * only: loaded on demand from s3-profile.ts), and anonymous access only when asked for.
 *
 * Portable: the environment is read through `globalThis.process` when there is one.
 */
import { StoreError } from "../src/errors.js";

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** What a profile holds: credentials (when the credentials file has them) and settings from config. */
export interface S3Profile {
  credentials?: S3Credentials;
  region?: string;
  endpoint?: string;
}

/** Reads a named profile (Node: the AWS shared files). */
export type ProfileLoader = (name: string) => Promise<S3Profile | undefined>;

/** No usable credentials were found, or the ones named are incomplete. */
export class S3CredentialsError extends StoreError {
  override readonly code: string = "S3_CREDENTIALS";
}

export function environment(): Record<string, string | undefined> {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  return env ?? {};
}

const isNode = typeof process !== "undefined" && typeof process.versions?.node === "string";

/** The AWS shared-files profile reader, on Node; undefined elsewhere. */
export async function defaultProfileLoader(): Promise<ProfileLoader | undefined> {
  if (!isNode) return undefined;
  return (await import("./s3-profile.js")).loadProfile;
}

export interface CredentialSources {
  credentials?: S3Credentials;
  /** A profile named by the caller (`--profile`): it comes before the environment's keys. */
  profile?: string;
  anonymous?: boolean;
  env?: Record<string, string | undefined>;
  loadProfile?: ProfileLoader;
}

export interface ResolvedCredentials {
  /** undefined: anonymous (requests are not signed). */
  credentials: S3Credentials | undefined;
  /** Where they came from, for messages ("options", "environment", "profile default"); never the keys. */
  source: string;
  profile?: S3Profile;
}

/** Walks the chain; throws S3CredentialsError when nothing is found and anonymous was not asked for. */
export async function resolveCredentials(sources: CredentialSources): Promise<ResolvedCredentials> {
  const env = sources.env ?? environment();
  if (sources.anonymous) return { credentials: undefined, source: "anonymous" };
  if (sources.credentials) return { credentials: checked(sources.credentials, "options"), source: "options" };
  const loader = sources.loadProfile;
  if (sources.profile !== undefined) {
    const profile = loader ? await loader(sources.profile) : undefined;
    if (!profile?.credentials) {
      throw new S3CredentialsError(`no credentials for profile "${sources.profile}"${loader ? " in the AWS shared credentials and config files" : " (profiles are read on Node only)"}`);
    }
    return { credentials: checked(profile.credentials, `profile ${sources.profile}`), source: `profile ${sources.profile}`, profile };
  }
  const id = env.AWS_ACCESS_KEY_ID;
  const secret = env.AWS_SECRET_ACCESS_KEY;
  if (id || secret) {
    const credentials = { accessKeyId: id ?? "", secretAccessKey: secret ?? "", sessionToken: env.AWS_SESSION_TOKEN || undefined };
    return { credentials: checked(credentials, "environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)"), source: "environment" };
  }
  const name = env.AWS_PROFILE || "default";
  const profile = loader ? await loader(name) : undefined;
  if (profile?.credentials) return { credentials: checked(profile.credentials, `profile ${name}`), source: `profile ${name}`, profile };
  throw new S3CredentialsError(
    "no AWS credentials found (options, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, " +
      `${env.AWS_PROFILE ? `profile "${name}"` : "AWS_PROFILE or the default profile"}); for a public bucket ask for anonymous access (anonymous: true, --anonymous)`,
  );
}

function checked(credentials: S3Credentials, from: string): S3Credentials {
  if (!credentials.accessKeyId || !credentials.secretAccessKey) {
    // Say which part is missing, never what the other part is.
    throw new S3CredentialsError(`incomplete AWS credentials from ${from}: ${credentials.accessKeyId ? "the secret access key" : "the access key id"} is missing`);
  }
  return { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey, sessionToken: credentials.sessionToken || undefined };
}
