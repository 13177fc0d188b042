import t from 'tap'
import { convexHull, dbPostprocess, minAreaRect, type ProbMap } from '../../functions/text-detect/dbPostprocess.js'
import { detResize, roundHalfEven } from '../../functions/text-detect/detResize.js'
import { SpeechSegmenter } from '../../functions/voice-activity/speechSegmenter.js'

function map (w: number, h: number, fill: (x: number, y: number) => number): ProbMap {
  const data = new Float32Array(w * h)
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[y * w + x] = fill(x, y)
  return { data, width: w, height: h, stride: w, offset: 0 }
}

t.test('resize as PaddleOCR: longer side at most 960, sides rounded (half to even) to multiples of 32', async (t) => {
  t.equal(roundHalfEven(2.5), 2)
  t.equal(roundHalfEven(3.5), 4)
  t.equal(roundHalfEven(6.25), 6)
  t.same(detResize(480, 200), { width: 480, height: 192 })
  t.same(detResize(1920, 800), { width: 960, height: 384 }, '800 * 0.5 = 400 = 12.5 * 32, rounded to 12')
  t.same(detResize(10, 10), { width: 32, height: 32 })
  t.same(detResize(640, 480, 320), { width: 320, height: 256 })
})

t.test('minimum-area rectangle', async (t) => {
  const r = minAreaRect(convexHull([[0, 0], [4, 0], [4, 2], [0, 2], [2, 1]]))
  t.equal(Math.round(r.w * r.h), 8)
  t.same([r.cx, r.cy].map((v) => Math.round(v * 1000) / 1000), [2, 1])
  const diamond = minAreaRect(convexHull([[5, 0], [10, 5], [5, 10], [0, 5]]))
  t.equal(Math.round(diamond.w * diamond.h), 50, 'a rotated square is fitted at its angle, not by its axis-aligned box (100)')
})

t.test('one region: boxed, scored, unclipped by area * 1.5 / perimeter, scaled to the original', async (t) => {
  // Pixels x 10..40, y 20..30 are text: the contour's rectangle is 30 x 10 (pixel centres), d = 300 * 1.5 / 80 = 5.625.
  const m = map(64, 64, (x, y) => x >= 10 && x <= 40 && y >= 20 && y <= 30 ? 0.9 : 0.05)
  const boxes = dbPostprocess(m, 128, 128)
  t.equal(boxes.length, 1)
  const expect = [[10 - 5.625, 20 - 5.625], [40 + 5.625, 20 - 5.625], [40 + 5.625, 30 + 5.625], [10 - 5.625, 30 + 5.625]].map(([x, y]) => [Math.round((x as number) * 2), Math.round((y as number) * 2)])
  t.same(boxes[0]?.points, expect, 'corners clockwise from top-left, in the original image\'s pixels')
  t.equal(boxes[0]?.score, 0.9)
})

t.test('a slanted region gets a slanted box', async (t) => {
  const m = map(96, 96, (x, y) => Math.abs((x - 48) - (y - 48)) <= 4 && Math.abs((x - 48) + (y - 48)) <= 50 ? 0.95 : 0)
  const [b] = dbPostprocess(m, 96, 96)
  t.ok(b !== undefined)
  const [p0, p1] = b?.points ?? [[0, 0], [0, 0]]
  const angle = Math.atan2(p1[1] - p0[1], p1[0] - p0[0]) * 180 / Math.PI
  t.ok(Math.abs(Math.abs(angle) - 45) < 5, `about 45 degrees (${angle.toFixed(1)})`)
})

t.test('regions below box_thresh, or too small, are dropped', async (t) => {
  t.same(dbPostprocess(map(64, 64, (x, y) => x >= 10 && x <= 40 && y >= 20 && y <= 30 ? 0.45 : 0), 64, 64), [], 'above thresh 0.3 but below box_thresh 0.6')
  t.same(dbPostprocess(map(64, 64, (x, y) => x >= 10 && x <= 11 && y >= 20 && y <= 21 ? 0.99 : 0), 64, 64), [], 'a 2 x 2 speck')
  t.same(dbPostprocess(map(64, 64, () => 0.1), 64, 64), [], 'nothing above thresh')
  t.equal(dbPostprocess(map(64, 64, (x, y) => (y >= 5 && y <= 12 && x >= 5 && x <= 50) || (y >= 40 && y <= 50 && x >= 8 && x <= 30) ? 0.9 : 0), 64, 64).length, 2, 'two regions, two boxes')
})

t.test('speech segments from window probabilities (VADIterator rules)', async (t) => {
  const s = new SpeechSegmenter()
  const probs = [...Array(10).fill(0.02), ...Array(20).fill(0.9), ...Array(10).fill(0.02)] as number[]
  const segs = probs.map((p) => s.push(p, 512)).filter((x) => x !== undefined)
  // Start: window 10 (sample 5120) less 30 ms pad (480) = 4640 = 290 ms. Silence from window 30: temp end at
  // 15872, confirmed 100 ms later; end = 15872 + 480 = 16352 = 1022 ms.
  t.same(segs, [{ startMs: 290, endMs: 1022 }])
  const blip = new SpeechSegmenter()
  const short = [...Array(5).fill(0.9), ...Array(10).fill(0.01)].map((p) => blip.push(p as number, 512)).filter((x) => x !== undefined)
  t.same(short, [], 'shorter than 250 ms: dropped')
  const open = new SpeechSegmenter()
  for (let i = 0; i < 20; i++) open.push(0.9, 512)
  t.ok(open.speaking)
  t.equal(open.openStartMs, 0)
  t.same(open.finish(), { startMs: 0, endMs: 640 }, 'finish closes an open segment at the last sample')
  const dip = new SpeechSegmenter()
  const withDip = [...Array(10).fill(0.9), 0.4, 0.1, 0.1, ...Array(10).fill(0.9), ...Array(10).fill(0)].map((p) => dip.push(p as number, 512)).filter((x) => x !== undefined)
  t.equal(withDip.length, 1, 'a dip shorter than 100 ms does not split a segment')
})
