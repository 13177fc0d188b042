/**
 * PaddleOCR's DBPostProcess (ppocr/postprocess/db_postprocess.py, box_type "quad", score_mode "fast") in
 * TypeScript: threshold the probability map, find each text region, fit its minimum-area rectangle, score it,
 * unclip (grow) it, and scale it back to the original image.
 * One difference: regions are 8-connected components rather than cv2.findContours' contours; the minimum-area
 * rectangle of a region is that of its outer contour, but holes inside a region (which findContours'
 * RETR_LIST also returns, and which its size and score filters usually drop) are not candidates here.
 */
export interface DbOptions {
  /** Pixels with probability above this are text (PaddleOCR det_db_thresh 0.3). */
  thresh: number
  /** Regions whose mean probability is below this are dropped (det_db_box_thresh 0.6). */
  boxThresh: number
  /** How much a box grows: distance = area * ratio / perimeter (det_db_unclip_ratio 1.5). */
  unclipRatio: number
  maxCandidates: number
  minSize: number
}

export const DB_DEFAULTS: DbOptions = { thresh: 0.3, boxThresh: 0.6, unclipRatio: 1.5, maxCandidates: 1000, minSize: 3 }

export type Point = [number, number]
export interface TextBox {
  /** Corners in the original image: top-left, top-right, bottom-right, bottom-left (clockwise). */
  points: [Point, Point, Point, Point]
  /** Mean probability inside the box before unclipping. */
  score: number
}

/** Probability map of one image: `width` x `height` floats, read with row stride `stride`. */
export interface ProbMap { data: Float32Array; width: number; height: number; stride: number; offset: number }

interface Rect { cx: number; cy: number; w: number; h: number; angle: number }

/** Andrew's monotone chain; points as a flat [x0, y0, x1, y1, ...] list. Returns hull corners counter-clockwise. */
export function convexHull (pts: Point[]): Point[] {
  const p = [...pts].sort((a, b) => a[0] - b[0] || a[1] - b[1])
  if (p.length < 3) return p
  const cross = (o: Point, a: Point, b: Point): number => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
  const lower: Point[] = []
  for (const q of p) {
    while (lower.length >= 2 && cross(lower[lower.length - 2] as Point, lower[lower.length - 1] as Point, q) <= 0) lower.pop()
    lower.push(q)
  }
  const upper: Point[] = []
  for (let i = p.length - 1; i >= 0; i--) {
    const q = p[i] as Point
    while (upper.length >= 2 && cross(upper[upper.length - 2] as Point, upper[upper.length - 1] as Point, q) <= 0) upper.pop()
    upper.push(q)
  }
  upper.pop()
  lower.pop()
  return lower.concat(upper)
}

/** The minimum-area enclosing rectangle of a convex hull (rotating calipers), as cv2.minAreaRect finds it. */
export function minAreaRect (hull: Point[]): Rect {
  if (hull.length === 0) return { cx: 0, cy: 0, w: 0, h: 0, angle: 0 }
  if (hull.length === 1) { const [x, y] = hull[0] as Point; return { cx: x, cy: y, w: 0, h: 0, angle: 0 } }
  let best: Rect | undefined
  let bestArea = Infinity
  for (let i = 0; i < hull.length; i++) {
    const a = hull[i] as Point
    const b = hull[(i + 1) % hull.length] as Point
    const len = Math.hypot(b[0] - a[0], b[1] - a[1])
    if (len === 0) continue
    const ux = (b[0] - a[0]) / len
    const uy = (b[1] - a[1]) / len
    let minU = Infinity; let maxU = -Infinity; let minV = Infinity; let maxV = -Infinity
    for (const [x, y] of hull) {
      const u = x * ux + y * uy
      const v = -x * uy + y * ux
      if (u < minU) minU = u
      if (u > maxU) maxU = u
      if (v < minV) minV = v
      if (v > maxV) maxV = v
    }
    const area = (maxU - minU) * (maxV - minV)
    if (area < bestArea - 1e-9) {
      bestArea = area
      const cu = (minU + maxU) / 2
      const cv = (minV + maxV) / 2
      best = { cx: cu * ux - cv * uy, cy: cu * uy + cv * ux, w: maxU - minU, h: maxV - minV, angle: Math.atan2(uy, ux) }
    }
  }
  return best ?? { cx: (hull[0] as Point)[0], cy: (hull[0] as Point)[1], w: 0, h: 0, angle: 0 }
}

function rectCorners (r: Rect): Point[] {
  const ux = Math.cos(r.angle); const uy = Math.sin(r.angle)
  const hw = r.w / 2; const hh = r.h / 2
  return [[-hw, -hh], [hw, -hh], [hw, hh], [-hw, hh]].map(([u, v]) => [r.cx + (u as number) * ux - (v as number) * uy, r.cy + (u as number) * uy + (v as number) * ux] as Point)
}

/** get_mini_boxes: the rectangle's corners ordered top-left, top-right, bottom-right, bottom-left, and its shorter side. */
export function miniBox (r: Rect): { box: [Point, Point, Point, Point]; sside: number } {
  const p = rectCorners(r).sort((a, b) => a[0] - b[0])
  const [p0, p1, p2, p3] = p as [Point, Point, Point, Point]
  const [i1, i4] = p1[1] > p0[1] ? [p0, p1] : [p1, p0]
  const [i2, i3] = p3[1] > p2[1] ? [p2, p3] : [p3, p2]
  return { box: [i1, i2, i3, i4], sside: Math.min(r.w, r.h) }
}

/** box_score_fast: mean probability over the pixels of the box polygon (integer corners, edges included). */
export function boxScore (map: ProbMap, box: Point[]): number {
  const xs = box.map((p) => p[0]); const ys = box.map((p) => p[1])
  const clampX = (v: number): number => Math.min(Math.max(v, 0), map.width - 1)
  const clampY = (v: number): number => Math.min(Math.max(v, 0), map.height - 1)
  const xmin = clampX(Math.floor(Math.min(...xs))); const xmax = clampX(Math.ceil(Math.max(...xs)))
  const ymin = clampY(Math.floor(Math.min(...ys))); const ymax = clampY(Math.ceil(Math.max(...ys)))
  const poly = box.map(([x, y]) => [Math.trunc(x - xmin) + xmin, Math.trunc(y - ymin) + ymin] as Point)
  // Inside a convex polygon, edges included: the cross products with every edge share a sign (or are 0).
  const inside = (x: number, y: number): boolean => {
    let pos = false; let neg = false
    for (let i = 0; i < poly.length; i++) {
      const a = poly[i] as Point; const b = poly[(i + 1) % poly.length] as Point
      const c = (b[0] - a[0]) * (y - a[1]) - (b[1] - a[1]) * (x - a[0])
      if (c > 1e-9) pos = true
      else if (c < -1e-9) neg = true
      if (pos && neg) return false
    }
    return true
  }
  let sum = 0; let n = 0
  for (let y = ymin; y <= ymax; y++) {
    const row = map.offset + y * map.stride
    for (let x = xmin; x <= xmax; x++) {
      if (!inside(x, y)) continue
      sum += map.data[row + x] as number
      n++
    }
  }
  return n === 0 ? 0 : sum / n
}

/**
 * unclip: pyclipper's round-joined offset of the rectangle by distance = area * ratio / perimeter. The
 * minimum-area rectangle of that offset polygon is the rectangle grown by the distance on every side,
 * which is all get_mini_boxes keeps of it.
 */
export function unclip (r: Rect, ratio: number): Rect {
  const perimeter = 2 * (r.w + r.h)
  if (perimeter === 0) return r
  const d = (r.w * r.h * ratio) / perimeter
  return { ...r, w: r.w + 2 * d, h: r.h + 2 * d }
}

/** 8-connected regions of the thresholded map: per region, the leftmost and rightmost pixel of each row (enough for its hull). */
export function regions (map: ProbMap, thresh: number, maxCandidates: number): Point[][] {
  const { width, height } = map
  const label = new Int32Array(width * height)
  const out: Point[][] = []
  const stack: number[] = []
  for (let y0 = 0; y0 < height; y0++) {
    for (let x0 = 0; x0 < width; x0++) {
      const i0 = y0 * width + x0
      if (label[i0] !== 0 || !((map.data[map.offset + y0 * map.stride + x0] as number) > thresh)) continue
      if (out.length >= maxCandidates) return out
      const id = out.length + 1
      const rowMin = new Map<number, number>(); const rowMax = new Map<number, number>()
      label[i0] = id
      stack.push(i0)
      while (stack.length > 0) {
        const i = stack.pop() as number
        const x = i % width; const y = (i - x) / width
        const mn = rowMin.get(y); if (mn === undefined || x < mn) rowMin.set(y, x)
        const mx = rowMax.get(y); if (mx === undefined || x > mx) rowMax.set(y, x)
        for (let dy = -1; dy <= 1; dy++) {
          const ny = y + dy
          if (ny < 0 || ny >= height) continue
          for (let dx = -1; dx <= 1; dx++) {
            const nx = x + dx
            if (nx < 0 || nx >= width || (dx === 0 && dy === 0)) continue
            const j = ny * width + nx
            if (label[j] !== 0 || !((map.data[map.offset + ny * map.stride + nx] as number) > thresh)) continue
            label[j] = id
            stack.push(j)
          }
        }
      }
      const pts: Point[] = []
      for (const [y, x] of rowMin) { pts.push([x, y]); const xm = rowMax.get(y) as number; if (xm !== x) pts.push([xm, y]) }
      out.push(pts)
    }
  }
  return out
}

/** Text boxes of one probability map, in the coordinates of the original `destWidth` x `destHeight` image, top to bottom. */
export function dbPostprocess (map: ProbMap, destWidth: number, destHeight: number, opts: DbOptions = DB_DEFAULTS): TextBox[] {
  const boxes: TextBox[] = []
  for (const pts of regions(map, opts.thresh, opts.maxCandidates)) {
    const rect = minAreaRect(convexHull(pts))
    const first = miniBox(rect)
    if (first.sside < opts.minSize) continue
    const score = boxScore(map, first.box)
    if (score < opts.boxThresh) continue
    const grown = unclip(rect, opts.unclipRatio)
    const second = miniBox(grown)
    if (second.sside < opts.minSize + 2) continue
    const scaled = second.box.map(([x, y]) => [
      Math.min(Math.max(Math.round(x / map.width * destWidth), 0), destWidth),
      Math.min(Math.max(Math.round(y / map.height * destHeight), 0), destHeight)
    ] as Point) as [Point, Point, Point, Point]
    // predict_det.py filter_tag_det_res: drop boxes 3 px or less wide or high once scaled.
    const w = Math.trunc(Math.hypot(scaled[0][0] - scaled[1][0], scaled[0][1] - scaled[1][1]))
    const h = Math.trunc(Math.hypot(scaled[0][0] - scaled[3][0], scaled[0][1] - scaled[3][1]))
    if (w <= 3 || h <= 3) continue
    boxes.push({ points: scaled, score: Math.round(score * 1e4) / 1e4 })
  }
  // sorted_boxes: top to bottom, then left to right.
  return boxes.sort((a, b) => a.points[0][1] - b.points[0][1] || a.points[0][0] - b.points[0][0])
}
