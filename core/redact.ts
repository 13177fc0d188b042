/** What a secret is replaced with. */
export const REDACTED = '[REDACTED]'

/**
 * Replaces every occurrence of each secret in `text` with [REDACTED]: the secret as is, its base64 form (an
 * `Authorization: Basic` header carries base64("user:key"), so pass the whole "user:key" credential to
 * catch it), its base64url form, and its percent-encoded form (a URL's userinfo). Empty secrets are
 * ignored; longer secrets are replaced first, so one that contains another is not left half-visible.
 * Plain string replacement, no regular expressions built from secrets.
 */
export function redactSecrets (text: string, secrets: ReadonlyArray<string | undefined>): string {
  const forms = new Set<string>()
  for (const s of secrets) {
    if (s === undefined || s === '') continue
    const b64 = Buffer.from(s, 'utf8').toString('base64')
    for (const f of [s, b64, b64.replace(/=+$/, ''), Buffer.from(s, 'utf8').toString('base64url'), encodeURIComponent(s)]) {
      if (f !== '') forms.add(f)
    }
  }
  let out = text
  for (const f of [...forms].sort((a, b) => b.length - a.length)) {
    if (out.includes(f)) out = out.split(f).join(REDACTED)
  }
  return out
}

/**
 * A URL as it may be logged: the password of its userinfo (mqtt://user:secret@host) replaced with [REDACTED],
 * the user name kept. Text that is not a URL is returned with any `//user:pass@` part redacted the same way.
 */
export function redactUrl (text: string): string {
  try {
    const url = new URL(text)
    if (url.password === '') return text
    url.password = REDACTED
    return url.href.replace(encodeURIComponent(REDACTED), REDACTED)
  } catch {
    return text.replace(/(\/\/[^/@:\s]*):[^/@\s]*@/g, `$1:${REDACTED}@`)
  }
}
