import sharp from 'sharp'
import { InputLimitError } from '../onnx/inputLimits.js'
import { FunctionInputError } from '../sdk/functionInputError.js'
import { detResize } from './detResize.js'

/**
 * libvips keeps recently decoded images and operations in a cache (by default up to 50 MB and 100 operations
 * per thread); for a function that never sees the same frame twice it only holds memory after a big request
 * ("the memory stayed"). Off, once per process.
 */
sharp.cache(false)

/**
 * Largest frame accepted by default, in pixels: 4096 x 4096 = 16,777,216 (16.8 Mpx), above a 12 Mpx phone
 * camera or 4K video (8.3 Mpx). Decoding costs about 4 bytes a pixel before the resize, so ~67 MB at the limit.
 */
export const MAX_IMAGE_PIXELS = 16_777_216

export interface ImageHeader {
  format: 'jpeg' | 'png'
  /** The frame's size after EXIF orientation, as PaddleOCR (cv2.imread) sees it. */
  width: number
  height: number
  /** width x height: the decode work this frame asks for. */
  pixels: number
}

export interface DecodedImage {
  width: number
  height: number
  /** Interleaved RGB of the frame resized for the detector. */
  rgb: Uint8Array
  resizedWidth: number
  resizedHeight: number
}

/**
 * Reads the size from the header only (no pixel is decoded) and refuses a frame over `maxPixels` before any
 * decode work: a 6000 x 6000 PNG of one colour is a few KB on the wire and 144 MB once decoded.
 */
export async function readImageHeader (bytes: Buffer, maxPixels = MAX_IMAGE_PIXELS): Promise<ImageHeader> {
  if (bytes.length === 0) throw new FunctionInputError('empty image: send a JPEG or PNG as the event data')
  let meta
  try {
    // metadata() reads the header only; the pixel limit is ours, below, so the refusal can say which it is.
    meta = await sharp(bytes, { limitInputPixels: false }).metadata()
  } catch (err) {
    throw new FunctionInputError(`cannot read the image: ${(err as Error).message}`)
  }
  if (meta.format !== 'jpeg' && meta.format !== 'png') throw new FunctionInputError(`unsupported image format ${meta.format ?? 'unknown'}: send JPEG or PNG`)
  const swap = (meta.orientation ?? 1) >= 5
  const width = swap ? meta.height : meta.width
  const height = swap ? meta.width : meta.height
  if (width === undefined || height === undefined || width < 1 || height < 1) throw new FunctionInputError('the image has no size')
  const pixels = width * height
  if (pixels > maxPixels) throw new InputLimitError('maxImagePixels', pixels, maxPixels, `the image is ${width} x ${height} = ${pixels} pixels, over the per-image limit`)
  return { format: meta.format, width, height, pixels }
}

/**
 * Decodes a JPEG or PNG (sharp/libvips) whose header passed readImageHeader, applies its EXIF orientation, drops
 * alpha, and resizes it with bilinear interpolation (cv2.resize's default) to the detector's size. Bytes that
 * do not decode are a FunctionInputError; libvips itself refuses more than `maxPixels` (limitInputPixels).
 */
export async function decodeImage (bytes: Buffer, header: ImageHeader, limitSideLen: number, maxPixels = MAX_IMAGE_PIXELS): Promise<DecodedImage> {
  const size = detResize(header.width, header.height, limitSideLen)
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: maxPixels, failOn: 'error' })
      .autoOrient()
      .removeAlpha()
      .toColourspace('srgb')
      .resize(size.width, size.height, { fit: 'fill', kernel: 'linear' })
      .raw()
      .toBuffer({ resolveWithObject: true })
    if (info.channels !== 3) throw new Error(`expected 3 channels after decoding, got ${info.channels}`)
    return { width: header.width, height: header.height, rgb: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), resizedWidth: info.width, resizedHeight: info.height }
  } catch (err) {
    throw new FunctionInputError(`cannot decode the image: ${(err as Error).message}`)
  }
}

/** Header check, then decode: one frame of a single event. */
export async function readAndDecodeImage (bytes: Buffer, limitSideLen: number, maxPixels = MAX_IMAGE_PIXELS): Promise<DecodedImage> {
  return decodeImage(bytes, await readImageHeader(bytes, maxPixels), limitSideLen, maxPixels)
}
