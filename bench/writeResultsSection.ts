import fs from 'node:fs'
import path from 'node:path'

/**
 * Puts `section` (which starts with its own `## Heading` line) into bench/RESULTS.md in place of the section
 * with that heading, up to the next `## `, or at the end when there is none; the rest of the file is left alone.
 */
export function writeResultsSection (repoRoot: string, heading: string, section: string): string {
  const resultsPath = path.join(repoRoot, 'bench', 'RESULTS.md')
  let text = fs.existsSync(resultsPath) ? fs.readFileSync(resultsPath, 'utf8') : '# Benchmark results\n'
  const escaped = heading.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  const start = text.search(new RegExp(`^## ${escaped}\\s*$`, 'm'))
  const body = section.replace(/\n*$/, '\n')
  if (start >= 0) {
    const rest = text.slice(start + 1)
    const next = rest.search(/^## /m)
    text = text.slice(0, start) + body + (next >= 0 ? '\n' + rest.slice(next) : '')
  } else {
    text = text.replace(/\n*$/, '\n\n') + body
  }
  fs.writeFileSync(resultsPath, text)
  return resultsPath
}
