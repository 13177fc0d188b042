import protobuf from 'protobufjs'

/** The autoscaler's Stat message (knative/serving pkg/autoscaler/metrics/stat.proto), decoded by a real protobuf library. */
const root = protobuf.parse(`
syntax = "proto3";
package metrics;
message Stat {
  string pod_name = 1;
  double average_concurrent_requests = 2;
  double average_proxied_concurrent_requests = 3;
  double request_count = 4;
  double proxied_request_count = 5;
  double process_uptime = 6;
  int64 timestamp = 7;
}`, { keepCase: false }).root
export const StatType = root.lookupType('metrics.Stat')

export function decodeStat (buf: Uint8Array): Record<string, unknown> {
  return StatType.toObject(StatType.decode(buf), { longs: Number, defaults: false }) as Record<string, unknown>
}
