import type { z } from 'zod'

/** `routes[0].function`, the way a user would point at the field in the file. */
export function formatPath (path: ReadonlyArray<PropertyKey>): string {
  let out = ''
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`
    else out += out === '' ? String(seg) : `.${String(seg)}`
  }
  return out === '' ? '(top level)' : out
}

function closest (word: string, candidates: string[]): string | undefined {
  let best: string | undefined
  let bestDist = Infinity
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase())
    if (d < bestDist) { bestDist = d; best = c }
  }
  return bestDist <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined
}

function editDistance (a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j] as number
      row[j] = Math.min((row[j] as number) + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = tmp
    }
  }
  return row[b.length] as number
}

/**
 * One line per problem: the field path, then what was expected. Unknown keys name the nearest known key,
 * so a typo reads as one (`broker.prot: unknown key; did you mean "port"?`).
 */
export function formatIssues (issues: ReadonlyArray<z.core.$ZodIssue>, knownKeysAt: (path: ReadonlyArray<PropertyKey>) => string[]): string[] {
  const lines: string[] = []
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeysAt(issue.path)
      for (const key of issue.keys) {
        const hint = closest(key, known)
        const where = formatPath([...issue.path, key])
        lines.push(`${where}: unknown key${hint === undefined ? '' : `; did you mean "${hint}"?`} (allowed: ${known.join(', ')})`)
      }
    } else if (issue.code === 'invalid_key') {
      // zod 4 reports a bad record key as "Invalid key in record" and keeps the key schema's own message
      // (e.g. the function-name rule) in the nested issues; show those, or the user cannot tell what is wrong.
      const why = issue.issues.map((i) => i.message).filter((m) => m !== '').join('; ')
      lines.push(`${formatPath(issue.path)}: invalid key${why === '' ? '' : `: ${why}`}`)
    } else {
      lines.push(`${formatPath(issue.path)}: ${issue.message}`)
    }
  }
  return lines
}
