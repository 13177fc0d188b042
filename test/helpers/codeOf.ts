import { isIotlessError } from '../../core/errors.js'

/** The code of the IotlessError `fn` throws ('none' if it returns; 'message' if the text does not match `re`). */
export function codeOf (fn: () => unknown, re?: RegExp): string {
  try {
    fn()
    return 'none'
  } catch (e) {
    if (!isIotlessError(e)) return String(e)
    return re === undefined || re.test(e.message) ? e.code : `message: ${e.message}`
  }
}
