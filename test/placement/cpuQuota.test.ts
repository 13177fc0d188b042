import t from 'tap'
import { cfsPeriodUs, cfsQuotaUs, DEFAULT_CFS_PERIOD_US } from '../../bench/placement/cpuQuota.js'

t.test('BENCH_CFS_PERIOD_US: default 5 ms, the kernel\'s range, errors name the setting', async (t) => {
  t.equal(DEFAULT_CFS_PERIOD_US, 5000)
  t.equal(cfsPeriodUs(undefined), 5000)
  t.equal(cfsPeriodUs(''), 5000)
  t.equal(cfsPeriodUs('100000'), 100_000, 'the kernel\'s default period, for the side-by-side runs')
  t.equal(cfsPeriodUs('1000'), 1000)
  for (const bad of ['999', '1000001', '2500.5', 'ten', '-1']) t.throws(() => cfsPeriodUs(bad), /BENCH_CFS_PERIOD_US/, bad)
})

t.test('quota: cores x period, never under the kernel\'s 1 ms', async (t) => {
  t.equal(cfsQuotaUs(0.25, 100_000), 25_000)
  t.equal(cfsQuotaUs(0.25, 5000), 1250, 'the edge tier at the default period')
  t.equal(cfsQuotaUs(0.2, 5000), 1000, 'the smallest edge the default period allows')
  t.equal(cfsQuotaUs(1, 10_000), 10_000)
  t.throws(() => cfsQuotaUs(0.25, 2000), /under the kernel's 1000 us minimum/, '0.25 core over 2 ms is 500 us')
})
