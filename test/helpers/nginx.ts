/**
 * A real nginx for the HTTP store tests: the Debian build (/usr/sbin/nginx), on a free loopback
 * port, serving a fresh temporary folder read-write through WebDAV PUT/DELETE, plus optional
 * read-only locations (the shared fixtures).
 *
 * Everything nginx touches lives in the temporary folder (config, pid, error log, body temp
 * files), so it never needs /etc/nginx or /var. Under root the worker runs as `nobody`, which
 * is why the folders it writes are chowned to that user.
 *
 * A missing nginx follows test/helpers/external.ts: skipped with one line on a developer's
 * machine, a failure under CI. ZARRFLOW_SKIP_NGINX=1 skips deliberately; ZARRFLOW_NGINX names
 * another binary.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { skipUnlessFound } from "./external.js";

export interface NginxOptions {
  /** Extra read-only locations: URL prefix ("/fixtures/") → directory. */
  readOnly?: Record<string, string>;
}

export interface Nginx {
  /** "http://127.0.0.1:<port>" (no trailing slash). */
  origin: string;
  port: number;
  /** The folder served read-write at "/". */
  dataDir: string;
  stop(): Promise<void>;
}

function findNginx(): string {
  const missing = (where: string) =>
    new Error(
      `nginx is not installed (${where}): the HTTP store tests run against a real nginx. ` +
        "Install it to enable them (Debian: apt-get install nginx; .ci/run does this).",
    );
  const chosen = process.env.ZARRFLOW_NGINX;
  if (chosen) {
    if (!existsSync(chosen)) throw missing(`ZARRFLOW_NGINX=${chosen} does not exist`);
    return chosen;
  }
  if (existsSync("/usr/sbin/nginx")) return "/usr/sbin/nginx";
  try {
    return execFileSync("sh", ["-c", "command -v nginx"], { encoding: "utf8" }).trim();
  } catch {
    throw missing("looked for /usr/sbin/nginx and nginx on PATH");
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** The worker's user and group when we are root (nginx only switches users as root). */
function workerUser(): { user: string; group: string; uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (...args: string[]) => execFileSync("id", [...args, "nobody"], { encoding: "utf8" }).trim();
  return { user: "nobody", group: id("-gn"), uid: Number(id("-u")), gid: Number(id("-g")) };
}

function config(dir: string, port: number, readOnly: Record<string, string>, user: ReturnType<typeof workerUser>): string {
  const locations = Object.entries(readOnly)
    .map(
      ([prefix, folder]) => `
    location ${prefix} {
      alias ${folder.endsWith("/") ? folder : `${folder}/`};
      limit_except GET { deny all; }
    }`,
    )
    .join("");
  return `
${user ? `user ${user.user} ${user.group};` : ""}
daemon off;
master_process on;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 512; }
http {
  access_log off;
  default_type application/octet-stream;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 100000;
  server {
    listen 127.0.0.1:${port};
    server_name localhost;
    client_max_body_size 0;
    location / {
      root ${dir}/data;
      dav_methods PUT DELETE;
      create_full_put_path on;
      dav_access user:rw group:r all:r;
    }${locations}
  }
}
`;
}

/** Starts nginx; the caller must `stop()` it (afterAll), and it is also killed when the process exits. */
export async function startNginx(options: NginxOptions = {}): Promise<Nginx> {
  const binary = findNginx();
  const dir = await mkdtemp(path.join(tmpdir(), "zarrflow-nginx-"));
  const user = workerUser();
  // mkdtemp makes the folder 0700; the worker (nobody) must traverse it.
  await chmod(dir, 0o755);
  for (const sub of ["data", "body"]) {
    await mkdir(path.join(dir, sub));
    if (user) await chown(path.join(dir, sub), user.uid, user.gid);
  }

  let lastError: Error | undefined;
  // The port is free when chosen but could be taken before nginx binds it: try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    await writeFile(path.join(dir, "nginx.conf"), config(dir, port, options.readOnly ?? {}, user));
    try {
      const child = await launch(binary, dir, port);
      return handle(child, dir, port);
    } catch (error) {
      lastError = error as Error;
      if (!/Address already in use/.test(lastError.message)) break;
    }
  }
  await rm(dir, { recursive: true, force: true });
  throw lastError;
}

async function launch(binary: string, dir: string, port: number): Promise<ChildProcess> {
  const child = spawn(binary, ["-p", `${dir}/`, "-c", `${dir}/nginx.conf`, "-e", `${dir}/error.log`], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  let exited = false;
  child.once("exit", () => (exited = true));
  const spawnError = new Promise<never>((_, reject) => child.once("error", reject));
  spawnError.catch(() => {});

  for (let i = 0; i < 200; i++) {
    if (exited) {
      const log = await readFile(path.join(dir, "error.log"), "utf8").catch(() => "");
      throw new Error(`nginx exited during startup (port ${port}):\n${stderr}\n${log}`);
    }
    if (await Promise.race([canConnect(port), spawnError])) return child;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill("SIGKILL");
  throw new Error(`nginx did not accept connections on port ${port} within 10 s:\n${stderr}`);
}

function handle(child: ChildProcess, dir: string, port: number): Nginx {
  // SIGTERM to the master makes it stop its workers before it exits; a SIGKILL would orphan them.
  const killOnExit = () => child.kill("SIGTERM");
  process.once("exit", killOnExit);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    dataDir: path.join(dir, "data"),
    stop: serverStopper(child, exited, dir, killOnExit),
  };
}

function nginxProblem(): string | undefined {
  try {
    findNginx();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** True when the nginx-backed tests are to be skipped (deliberately, or nginx is missing outside CI). */
export const SKIP_NGINX =
  process.env.ZARRFLOW_SKIP_NGINX === "1" || skipUnlessFound("tests against a real nginx", nginxProblem());

/**
 * stop() for a server process a test started: SIGTERM (SIGKILL after 5 s), wait for the exit,
 * remove its folder. Idempotent; unhooks the process-exit safety kill.
 */
export function serverStopper(child: ChildProcess, exited: Promise<void>, dir: string, killOnExit: () => void): () => Promise<void> {
  let stopped: Promise<void> | undefined;
  return () =>
    (stopped ??= (async () => {
      process.removeListener("exit", killOnExit);
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
      await rm(dir, { recursive: true, force: true });
    })());
}
