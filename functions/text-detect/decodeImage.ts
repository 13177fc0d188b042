import sharp from 'sharp'
import { FunctionInputError } from '../sdk/functionInputError.js'
import { detResize } from './detResize.js'

/** Largest frame accepted, in pixels: 40 megapixels, far above camera frames, well below a decompression bomb. */
export const MAX_INPUT_PIXELS = 40_000_000

export interface DecodedImage {
  /** The frame's size after EXIF orientation, as PaddleOCR (cv2.imread) sees it. */
  width: number
  height: number
  /** Interleaved RGB of the frame resized for the detector. */
  rgb: Uint8Array
  resizedWidth: number
  resizedHeight: number
}

/**
 * Decodes a JPEG or PNG (sharp/libvips), applies its EXIF orientation, drops alpha, and resizes it with
 * bilinear interpolation (cv2.resize's default) to the detector's size. Anything else, or bytes that do not
 * decode, is a FunctionInputError.
 */
export async function decodeImage (bytes: Buffer, limitSideLen: number): Promise<DecodedImage> {
  if (bytes.length === 0) throw new FunctionInputError('empty image: send a JPEG or PNG as the event data')
  let meta
  try {
    meta = await sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS }).metadata()
  } catch (err) {
    throw new FunctionInputError(`cannot read the image: ${(err as Error).message}`)
  }
  if (meta.format !== 'jpeg' && meta.format !== 'png') throw new FunctionInputError(`unsupported image format ${meta.format ?? 'unknown'}: send JPEG or PNG`)
  const swap = (meta.orientation ?? 1) >= 5
  const width = swap ? meta.height : meta.width
  const height = swap ? meta.width : meta.height
  if (width === undefined || height === undefined || width < 1 || height < 1) throw new FunctionInputError('the image has no size')
  const size = detResize(width, height, limitSideLen)
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error' })
      .autoOrient()
      .removeAlpha()
      .toColourspace('srgb')
      .resize(size.width, size.height, { fit: 'fill', kernel: 'linear' })
      .raw()
      .toBuffer({ resolveWithObject: true })
    if (info.channels !== 3) throw new Error(`expected 3 channels after decoding, got ${info.channels}`)
    return { width, height, rgb: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), resizedWidth: info.width, resizedHeight: info.height }
  } catch (err) {
    throw new FunctionInputError(`cannot decode the image: ${(err as Error).message}`)
  }
}
