/**
 * AWS shared configuration files (Node only): `~/.aws/credentials` (or
 * `AWS_SHARED_CREDENTIALS_FILE`) and `~/.aws/config` (or `AWS_CONFIG_FILE`), as the AWS CLI reads
 * them — `[name]` sections in the credentials file, `[profile name]` (or `[default]`) in config.
 * Keys from the credentials file win over keys in config.
 */
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import * as path from "node:path";

import type { S3Profile } from "./s3-credentials.js";

/** An INI file as sections of lower-cased keys. Comments start with # or ;. */
export function parseIni(text: string): Map<string, Record<string, string>> {
  const sections = new Map<string, Record<string, string>>();
  let current: Record<string, string> | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const section = /^\[\s*([^\]]+?)\s*\]$/.exec(line);
    if (section) {
      current = sections.get(section[1]) ?? {};
      sections.set(section[1], current);
      continue;
    }
    const pair = /^([^=]+?)\s*=\s*(.*)$/.exec(line);
    // Indented lines continue a nested setting (s3 = …); nothing here needs them.
    if (pair && current && !/^\s/.test(raw)) current[pair[1].toLowerCase()] = pair[2].trim();
  }
  return sections;
}

async function readIni(file: string): Promise<Map<string, Record<string, string>>> {
  try {
    return parseIni(await readFile(file, "utf8"));
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT") return new Map();
    throw error;
  }
}

export async function loadProfile(name: string, env: Record<string, string | undefined> = process.env): Promise<S3Profile | undefined> {
  const home = env.HOME || homedir();
  const credentialsFile = env.AWS_SHARED_CREDENTIALS_FILE || path.join(home, ".aws", "credentials");
  const configFile = env.AWS_CONFIG_FILE || path.join(home, ".aws", "config");
  const [credentials, config] = await Promise.all([readIni(credentialsFile), readIni(configFile)]);
  const fromConfig = config.get(name === "default" ? "default" : `profile ${name}`) ?? (name === "default" ? undefined : config.get(name));
  const merged = { ...fromConfig, ...credentials.get(name) };
  if (fromConfig === undefined && !credentials.has(name)) return undefined;
  const profile: S3Profile = {};
  if (merged.aws_access_key_id && merged.aws_secret_access_key) {
    profile.credentials = {
      accessKeyId: merged.aws_access_key_id,
      secretAccessKey: merged.aws_secret_access_key,
      sessionToken: merged.aws_session_token || undefined,
    };
  }
  if (merged.region) profile.region = merged.region;
  if (merged.endpoint_url) profile.endpoint = merged.endpoint_url;
  return profile;
}
