/** Python's round(): halves go to the even neighbour (round(2.5) == 2), as PaddleOCR's resize uses it. */
export function roundHalfEven (x: number): number {
  const r = Math.round(x)
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r
}

/**
 * PaddleOCR's DetResizeForTest, limit_type "max" (tools/infer/predict_det.py with the default
 * det_limit_side_len 960): scale so the longer side is at most `limitSideLen`, then round each side to a
 * multiple of 32 (at least 32), since the detector downsamples by 32.
 */
export function detResize (width: number, height: number, limitSideLen = 960): { width: number; height: number } {
  const longer = Math.max(width, height)
  const ratio = longer > limitSideLen ? limitSideLen / longer : 1
  const h = Math.trunc(height * ratio)
  const w = Math.trunc(width * ratio)
  return {
    width: Math.max(roundHalfEven(w / 32) * 32, 32),
    height: Math.max(roundHalfEven(h / 32) * 32, 32)
  }
}

/** PaddleOCR's NormalizeImage for detection: ImageNet mean/std, scale 1/255, applied in the channel order of a cv2 (BGR) image. */
export const DET_MEAN = [0.485, 0.456, 0.406] as const
export const DET_STD = [0.229, 0.224, 0.225] as const

/**
 * Writes one interleaved RGB image (width x height) into an NCHW float tensor at batch index `n`, as
 * channel planes B, G, R (cv2.imread gives BGR and PaddleOCR normalises that order with the mean/std above).
 * The tensor is `padW` x `padH` per plane; padding stays 0, as PaddleOCR pads batches.
 */
export function normaliseInto (out: Float32Array, n: number, rgb: Uint8Array, width: number, height: number, padW: number, padH: number): void {
  const plane = padW * padH
  const base = n * 3 * plane
  const k: number[] = []
  for (let c = 0; c < 3; c++) k.push(1 / (255 * (DET_STD[c] as number)), (DET_MEAN[c] as number) / (DET_STD[c] as number))
  const [s0, m0, s1, m1, s2, m2] = k as [number, number, number, number, number, number]
  for (let y = 0; y < height; y++) {
    let src = y * width * 3
    let dst = base + y * padW
    for (let x = 0; x < width; x++, src += 3, dst++) {
      out[dst] = (rgb[src + 2] as number) * s0 - m0 // B
      out[dst + plane] = (rgb[src + 1] as number) * s1 - m1 // G
      out[dst + 2 * plane] = (rgb[src] as number) * s2 - m2 // R
    }
  }
}
