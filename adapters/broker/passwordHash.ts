import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'

/**
 * Password hashes of the embedded broker's users file: scrypt (RFC 7914) with a random salt, written
 * `$scrypt$N=16384,r=8,p=1$<salt, base64>$<key, base64>` so that the parameters can be raised later without
 * breaking stored hashes. N=2^14, r=8, p=1 is RFC 7914's interactive-login choice (about 16 MiB, tens of ms).
 */
export const SCRYPT_PARAMS = { N: 16_384, r: 8, p: 1 } as const
const KEY_BYTES = 32
const SALT_BYTES = 16
const FORMAT = /^\$scrypt\$N=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/

function derive (password: string, salt: Buffer, keyBytes: number, params: ScryptOptions): Promise<Buffer> {
  // 128 * N * r bytes of memory, plus room: Node's default maxmem (32 MiB) is just enough for N=2^14, r=8.
  const maxmem = 256 * (params.N ?? 0) * (params.r ?? 0) + 1024 * 1024
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keyBytes, { ...params, maxmem }, (err, key) => { if (err !== null) reject(err); else resolve(key) })
  })
}

export async function hashPassword (password: string, salt: Buffer = randomBytes(SALT_BYTES)): Promise<string> {
  const key = await derive(password, salt, KEY_BYTES, SCRYPT_PARAMS)
  return `$scrypt$N=${SCRYPT_PARAMS.N},r=${SCRYPT_PARAMS.r},p=${SCRYPT_PARAMS.p}$${salt.toString('base64')}$${key.toString('base64')}`
}

/** Why a stored hash cannot be used, or undefined. Checked when the users file is read, not at the first login. */
export function passwordHashProblem (encoded: string): string | undefined {
  const m = FORMAT.exec(encoded)
  if (m === null) return 'is not a hash written by `iotless broker passwd` ($scrypt$N=...,r=...,p=...$salt$key)'
  const N = Number(m[1]); const r = Number(m[2]); const p = Number(m[3])
  if (N < 2 || (N & (N - 1)) !== 0 || N > 1_048_576) return 'has an scrypt N that is not a power of two up to 2^20'
  if (r < 1 || r > 32 || p < 1 || p > 16) return 'has scrypt r or p out of range (r 1-32, p 1-16)'
  if (Buffer.from(m[5] as string, 'base64').length < 16) return 'has a key shorter than 16 bytes'
  return undefined
}

/** Constant-time check of a password against a stored hash. A malformed hash never verifies. */
export async function verifyPassword (password: string, encoded: string): Promise<boolean> {
  const m = FORMAT.exec(encoded)
  if (m === null || passwordHashProblem(encoded) !== undefined) return false
  const expected = Buffer.from(m[5] as string, 'base64')
  const key = await derive(password, Buffer.from(m[4] as string, 'base64'), expected.length, { N: Number(m[1]), r: Number(m[2]), p: Number(m[3]) })
  return timingSafeEqual(key, expected)
}
