import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { sharedDir } from './paths.js'

/** Real sensing packets from the ULB library sensor network (R1.txt), as the lines were sent, CRLF removed. */
export function ulbLines (file = 'R1.txt'): string[] {
  return readFileSync(resolve(sharedDir, 'traces/ulb-sensornet-library1', file), 'latin1')
    .split('\r\n').filter((l) => l.trim() !== '')
}

export function temperatureOf (line: string): number {
  return Number((line.trim().split(/\s+/)[6] as string).replace(',', '.'))
}
