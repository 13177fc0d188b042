import { Instance } from './dist/adapters/runtime/instance.js'
const mod = '/work/wt/harden/dist/functions/temperature-alert/index.js'
const variants = [['none', { memoryMb: 0 }], ['watchdog', { memoryMb: 1024, guard: { cgroupRoot: null } }], ['cgroup', { memoryMb: 1024 }]]
const tot = {}
for (let round = 0; round < 4; round++) {
  for (const [name, lim] of variants) {
    const t0 = performance.now()
    const insts = Array.from({ length: 4 }, () => new Instance({ name: 'ta', modulePath: mod, config: {} }, process.env, lim))
    await Promise.all(insts.map((i) => i.whenReady()))
    tot[name] = (tot[name] ?? 0) + performance.now() - t0
    await Promise.all(insts.map((i) => i.stop()))
  }
}
for (const [k, v] of Object.entries(tot)) console.log(k, (v / 4).toFixed(0), 'ms per 4 parallel cold starts')
