/**
 * Polls a condition of a real process or socket (integration tests only; pure logic is tested without
 * waiting). Fails with the description after timeoutMs, which bounds a failing run only (a loaded machine
 * can take seconds for a cold start), so the default is generous.
 */
export async function waitFor (what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 20_000, everyMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await cond()) return
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}

export function processGone (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return false
  } catch {
    return true
  }
}
