import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { k8sDir } from './manifests.js'

export interface Instruction { op: string; args: string }
export interface Stage { from: string; name: string | undefined; instructions: Instruction[] }

/** A Dockerfile split into stages and instructions (continuation lines joined, comments dropped). */
export function parseDockerfile (file: string): { args: Instruction[]; stages: Stage[] } {
  const text = readFileSync(join(k8sDir, file), 'utf8')
  const logical: string[] = []
  let cur = ''
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (cur === '' && (line === '' || line.startsWith('#'))) continue
    if (line.startsWith('#')) continue
    if (line.endsWith('\\')) { cur += line.slice(0, -1) + ' '; continue }
    logical.push((cur + line).trim())
    cur = ''
  }
  const args: Instruction[] = []
  const stages: Stage[] = []
  for (const l of logical) {
    const m = /^(\S+)\s*(.*)$/.exec(l)
    if (m === null) continue
    const op = (m[1] ?? '').toUpperCase()
    const rest = m[2] ?? ''
    if (op === 'FROM') {
      const fm = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest)
      stages.push({ from: fm?.[1] ?? rest, name: fm?.[2], instructions: [] })
    } else if (stages.length === 0) {
      args.push({ op, args: rest })
    } else {
      (stages[stages.length - 1] as Stage).instructions.push({ op, args: rest })
    }
  }
  return { args, stages }
}

/** The value of the last instruction `op` in a stage, following FROM <earlier stage> inheritance. */
export function effective (stages: Stage[], stage: Stage, op: string): string | undefined {
  const own = stage.instructions.filter((i) => i.op === op).pop()
  if (own !== undefined) return own.args
  const parent = stages.find((s) => s.name === stage.from)
  if (parent === undefined) return undefined
  // Docker resets CMD when a stage sets its own ENTRYPOINT.
  if (op === 'CMD' && stage.instructions.some((i) => i.op === 'ENTRYPOINT')) return undefined
  return effective(stages, parent, op)
}
