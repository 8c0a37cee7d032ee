import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRedis, type RedisOptions, type TestRedis } from "./redis";

export interface TestCertificates {
  /** PEM of the test CA that signed `cert` (what REDIS_TLS_CA should name). */
  ca: string;
  /** PEM of another CA, unrelated to the server's certificate (a wrong REDIS_TLS_CA). */
  otherCa: string;
  /** The server's certificate (SAN IP:127.0.0.1, DNS:localhost) and key. */
  cert: string;
  key: string;
  dir: string;
}

function openssl(dir: string, ...args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

/** openssl's arguments for a fresh P-256 key, the one kind every certificate here has. */
const NEW_P256_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

/** A self-signed CA (P-256, one day) as `<name>.pem` and `<name>.key` in `dir`. */
function makeCa(dir: string, name: string, subject: string): void {
  openssl(
    dir,
    "req",
    "-x509",
    "-new",
    "-nodes",
    ...NEW_P256_KEY,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.pem`,
    "-days",
    "1",
    "-subj",
    subject,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  );
}

/**
 * A throwaway test CA, a server certificate it signed for 127.0.0.1 and localhost, and a
 * second, unrelated CA, made with `openssl` in a fresh 0700 temp dir (keys 0600).
 */
export function makeTestCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), "k6-gate-tls-"));
  makeCa(dir, "ca", "/CN=k6-gate test CA");
  makeCa(dir, "other-ca", "/CN=k6-gate unrelated test CA");
  openssl(
    dir,
    "req",
    "-new",
    "-nodes",
    ...NEW_P256_KEY,
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=localhost",
  );
  writeFileSync(
    join(dir, "server.ext"),
    [
      "basicConstraints=CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      "extendedKeyUsage=serverAuth",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ].join("\n"),
  );
  openssl(
    dir,
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-set_serial",
    "1",
    "-days",
    "1",
    "-extfile",
    "server.ext",
    "-out",
    "server.pem",
  );
  return {
    ca: join(dir, "ca.pem"),
    otherCa: join(dir, "other-ca.pem"),
    cert: join(dir, "server.pem"),
    key: join(dir, "server.key"),
    dir,
  };
}

export interface TestTlsRedis extends TestRedis {
  /** Paths of the PEM files: the CA that signed the server's certificate, and another one. */
  ca: string;
  otherCa: string;
}

/**
 * A redis-server (startRedis: the ACL user in `url`, the default user in `adminUrl`) that
 * takes TLS only, on its free port (`--port 0 --tls-port <port>`); clients are not asked
 * for a certificate (`--tls-auth-clients no`). Both URLs are `rediss://`.
 */
export async function startTlsRedis(
  options: Omit<RedisOptions, "tls"> = {},
): Promise<TestTlsRedis> {
  const certificates = makeTestCertificates();
  let redis: TestRedis;
  try {
    redis = await startRedis({ ...options, tls: certificates });
  } catch (error) {
    rmSync(certificates.dir, { recursive: true, force: true });
    throw error;
  }
  return {
    ...redis,
    ca: certificates.ca,
    otherCa: certificates.otherCa,
    destroy: async () => {
      await redis.destroy();
      rmSync(certificates.dir, { recursive: true, force: true });
    },
  };
}
