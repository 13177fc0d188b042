/**
 * The test files that need sockets, child processes, a broker, npm or the model runtimes: `npm test` runs
 * them with the rest; `npm run test:unit` (test/runUnit.ts) runs every other test file, with
 * test/helpers/noIo.ts preloaded so that a file missing from this list fails at once if it does I/O.
 * Paths are relative to test/, as in the source tree; a folder ends with '/'.
 */
export const INTEGRATION_TESTS: readonly string[] = [
  // whole folders: a broker, the pool's child processes, the stack, npm
  'broker/',
  'dashboard/dashboardBrowser.test.ts',
  'e2e/',
  'runtime/',
  'package/',
  // sockets or child processes
  'adapter/bigMessages.test.ts',
  'adapter/dedupMosquitto.test.ts',
  'adapter/spoolMosquitto.test.ts',
  'spool/diskSpool.test.ts',
  'capacity/capacityConfig.test.ts',
  'capacity/guaranteeLive.test.ts',
  'capacity/poolCapacity.test.ts',
  'capacity/reservationHold.test.ts',
  'capacity/spareStart.test.ts',
  'capacity/startGateLive.test.ts',
  'capacity/simRequestCli.test.ts',
  'capacity/simVsLive.test.ts',
  'proxy/acceptSeam.test.ts',
  'proxy/clientGone.test.ts',
  'proxy/grpcProbe.test.ts',
  'proxy/h2AutoProbe.test.ts',
  'proxy/h2/abuse.test.ts',
  'proxy/h2/grpc.test.ts',
  'proxy/h2/h2c.test.ts',
  'proxy/h2/relayEngine.test.ts',
  'proxy/h2/tls.test.ts',
  'proxy/listen.test.ts',
  'proxy/multiAccept.test.ts',
  'proxy/tracing.test.ts',
  'proxy/profiling.test.ts',
  'cli/startup.test.ts',
  'effects/onceHosts.test.ts',
  'effects/postgresStores.test.ts',
  'effects/redisStores.test.ts',
  'effects/sqliteStores.test.ts',
  'adapter/deliveryAedes.test.ts',
  'adapter/deliveryMosquitto.test.ts',
  'adapter/openwhiskRoute.test.ts',
  'adapter/resilience.test.ts',
  'adapter/security.test.ts',
  'cli/commands.test.ts',
  'cli/status.test.ts',
  'tracing/engineParity.test.ts',
  'tracing/oneTrace.test.ts',
  'tracing/tracingOff.test.ts',
  'tracing/unsampled.test.ts',
  'targets/traceHeaders.test.ts',
  'cli/prefetch.test.ts',
  'cli/sim.test.ts',
  'core/config.test.ts',
  'functions/knativeServer.test.ts',
  'functions/openwhiskServer.test.ts',
  'functions/textDetect.test.ts',
  'functions/voiceActivity.test.ts',
  'k8s/adapterConfig.test.ts',
  'k8s/grafanaDashboard.test.ts',
  'k8s/manifests.test.ts',
  'k8s/openwhiskDeploy.test.ts',
  'k8s/prefetcherArgs.test.ts',
  'k8s/proxyManifest.test.ts',
  'k8s/rbac.test.ts',
  'k8s/rbacMatchesActuator.test.ts',
  'k8s/securityContext.test.ts',
  'prefetch/knativeActuator.test.ts',
  'prefetch/openwhiskActuator.test.ts',
  'prefetch/poolActuator.test.ts',
  'prefetch/replay.test.ts',
  'prefetch/stackPrefetch.test.ts',
  'placement/placementProcess.test.ts',
  'placement/placementStack.test.ts',
  'proxy/adoptSocket.test.ts',
  'proxy/breakerTimeouts.test.ts',
  'proxy/directWrite.test.ts',
  'proxy/drain.test.ts',
  'proxy/fuzz.test.ts',
  'proxy/probes.test.ts',
  'proxy/proxy.test.ts',
  'proxy/slowReader.test.ts',
  'proxy/smuggling.test.ts',
  'targets/knativeTarget.test.ts',
  'targets/openwhiskTarget.test.ts',
  'targets/sinkTarget.test.ts'
]

/** Whether a test file (relative to test/, .ts) is an integration test. */
export function isIntegrationTest (rel: string): boolean {
  const p = rel.split('\\').join('/')
  return INTEGRATION_TESTS.some((e) => e.endsWith('/') ? p.startsWith(e) : p === e)
}

/** The unit test files among `files` (relative to test/, .ts): the fast lane. */
export function unitTests (files: readonly string[]): string[] {
  return files.filter((f) => f.endsWith('.test.ts') && !isIntegrationTest(f)).sort()
}
