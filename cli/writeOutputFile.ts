import { writeFileSync } from 'node:fs'
import { IotlessError } from '../core/errors.js'

/** Writes a file the user asked for (`flag` names the option), or OUTPUT_WRITE_FAILED naming the path and the reason. */
export function writeOutputFile (path: string, data: string, flag: string): void {
  try {
    writeFileSync(path, data)
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    const why = e.code === 'ENOENT' ? 'its folder does not exist' : e.code === 'EACCES' || e.code === 'EPERM' ? 'permission denied' : e.code === 'EISDIR' ? 'it is a folder' : e.message
    throw new IotlessError('OUTPUT_WRITE_FAILED', `${flag} ${path}: cannot write the file: ${why}${e.code === undefined ? '' : ` (${e.code})`}`, { cause: err })
  }
}
