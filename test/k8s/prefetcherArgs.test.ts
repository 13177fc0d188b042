import t from 'tap'
import { parsePrefetchOptions } from '../../cli/prefetch.js'
import { podTemplates, render, type K8sObject } from './manifests.js'

t.test('the prefetcher Deployment runs `iotless prefetch` with flags it accepts, scraping every adapter replica', async (t) => {
  for (const dir of ['base', 'overlays/dev', 'overlays/gpu']) {
    const objects = render(dir)
    const prefetcher = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'iotless-prefetcher') as K8sObject
    const args = podTemplates(prefetcher)[0]?.spec.containers?.[0]?.args ?? []
    t.equal(args[0], 'prefetch', `${dir}: the prefetch command`)
    const o = parsePrefetchOptions(args.slice(1).map((a) => a.replace('$(POD_NAMESPACE)', 'iotless')), {})
    t.equal(o.actuator, 'knative')
    t.equal(o.knative.inCluster, true, `${dir}: the pod's ServiceAccount`)
    const sts = objects.find((x) => x.kind === 'StatefulSet' && x.metadata.name === 'iotless-adapter') as K8sObject & { spec: { replicas: number; serviceName: string } }
    const want = Array.from({ length: sts.spec.replicas }, (_, i) => `http://${sts.metadata.name}-${i}.${sts.spec.serviceName}:9464/metrics`)
    t.same(o.metricsUrls, want, `${dir}: one --metrics-url per adapter replica`)
  }
})
