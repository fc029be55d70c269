import { collectDefaultMetrics, Registry } from 'prom-client';
import { errorFramesBuilt } from '../protocol/server-frames.ts';
import type { BacklogResync } from '../session/backlog-resync.ts';
import type { Services } from '../session/services.ts';
import { sentTotals } from '../transport/uws-connection.ts';
import { framesOutByType } from './frames-out.ts';
import type { LatencyHistogram } from './latency-histogram.ts';

type Labels = Record<string, string | number>;
interface Sample {
  value: number;
  labels?: Labels;
  metricName?: string;
}

/**
 * The Prometheus view of the relay (docs/operations.md lists every metric).
 * Each metric is read when scraped from numbers the relay keeps anyway
 * (RelayCounters, the writer's, bus's and dispatcher's own counts), so
 * nothing on a message's path touches prom-client. prom-client formats
 * the text and adds Node's process metrics.
 */
export function metricsRegistry(svc: Services, extra: { resync: BacklogResync }): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'relay_' });
  const c = svc.counters;
  const add = (name: string, help: string, type: 'counter' | 'gauge' | 'histogram', read: () => Sample[]) => {
    // A metric as the registry reads it: name, help, type and, at scrape, its values.
    const metric = { name, help, type, aggregator: 'sum', get: async () => ({ name, help, type, aggregator: 'sum', values: read() }), reset: () => {} };
    registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
  };
  const one = (value: number): Sample[] => [{ value }];
  const byKey = <K>(entries: Iterable<[K, number]>, label: string): Sample[] => [...entries].map(([k, value]) => ({ value, labels: { [label]: String(k) } }));
  const histogram = (name: string, h: LatencyHistogram): Sample[] => [
    ...h.cumulative().map(({ le, count }) => ({ value: count, labels: { le }, metricName: `${name}_bucket` })),
    { value: h.sum, metricName: `${name}_sum` },
    { value: h.count, metricName: `${name}_count` },
  ];

  add('relay_connections', 'Open WebSocket connections on this node.', 'gauge', () => one(svc.hub.size));
  add('relay_devices_online', 'Approved devices connected to this node.', 'gauge', () => {
    let n = 0;
    for (const s of svc.hub.all()) if (s.isApproved) n++;
    return one(n);
  });
  add('relay_frames_in_total', 'Client frames decoded, by type.', 'counter', () => byKey(Object.entries(c.framesIn), 'type'));
  add('relay_garbage_frames_total', 'Client frames that did not decode.', 'counter', () => one(c.garbageIn));
  add('relay_frames_out_total', 'Frames written to sockets.', 'counter', () => one(sentTotals.frames));
  add('relay_frames_out_by_type_total', 'Frames handed to sockets, by frame type.', 'counter', () => byKey(framesOutByType(), 'type'));
  add('relay_bytes_out_total', 'Bytes of frames written to sockets.', 'counter', () => one(sentTotals.bytes));
  add('relay_error_frames_total', 'Error frames sent, by error code.', 'counter', () => byKey(Object.entries(errorFramesBuilt), 'code'));
  add('relay_socket_closes_total', 'Socket closes, by close code.', 'counter', () => byKey(c.closes, 'code'));
  add('relay_upgrades_refused_total', 'WebSocket upgrades refused, by HTTP status.', 'counter', () => byKey(c.upgradesRefused, 'status'));
  add('relay_sent_ack_seconds', 'From a stored frame to its sent_ack.', 'histogram', () => histogram('relay_sent_ack_seconds', c.sentAck));
  add('relay_commit_batch_operations', 'Inserts and deletes per group-commit batch.', 'histogram', () => histogram('relay_commit_batch_operations', c.batchOps));
  add('relay_commit_seconds', 'Time to commit one group-commit batch.', 'histogram', () => histogram('relay_commit_seconds', c.commitSeconds));
  add('relay_commit_failures_total', 'Group-commit batches that failed (their senders got store_failed).', 'counter', () => one(svc.delivery.writerStats().failedBatches));
  add('relay_write_queue_depth', 'Queue operations waiting to be written.', 'gauge', () => one(svc.delivery.writerStats().depth));
  add('relay_pending_entries', "Entries in the writer's hands, by state.", 'gauge', () => byKey(svc.delivery.pendingByState(), 'state'));
  add('relay_bus_publishes_total', 'PUBLISH commands to the bus.', 'counter', () => one(svc.bus.stats().publishes));
  add('relay_bus_published_bytes_total', 'Payload bytes published to the bus.', 'counter', () => one(svc.bus.stats().publishedBytes));
  add('relay_bus_publish_failures_total', 'Bus publishes that failed.', 'counter', () => one(svc.bus.stats().publishFailures));
  add('relay_bus_received_total', 'Bus batches received from other nodes.', 'counter', () => one(svc.bus.stats().received));
  add('relay_backlog_resync_passes_total', 'Re-reads of every connected device queue after a bus outage.', 'counter', () => one(extra.resync.passes));
  add('relay_shedding_ratio', 'Share of new stored frames and upgrades refused while overloaded (0 to 1).', 'gauge', () => one(svc.overload.stats().shedding));
  add('relay_event_loop_lag_seconds', 'Event-loop lateness, as the overload gate last measured it.', 'gauge', () => one(svc.overload.stats().loopLagMs / 1000));
  add('relay_shed_refusals_total', 'Frames and upgrades refused by load shedding.', 'counter', () => {
    const o = svc.overload.stats();
    return [
      { value: o.refusedFrames, labels: { what: 'frames' } },
      { value: o.refusedUpgrades, labels: { what: 'upgrades' } },
    ];
  });
  add('relay_presence_lease_renewals_total', 'Presence leases renewed.', 'counter', () => one(svc.presence.leaseStats().renewed));
  add('relay_presence_lease_renewal_failures_total', 'Presence lease renewal rounds that failed.', 'counter', () => one(svc.presence.leaseStats().failures));
  const byActionOutcome = (m: Map<string, number>): Sample[] =>
    [...m].map(([k, value]) => {
      const [action, outcome] = k.split(':');
      return { value, labels: { action: action!, outcome: outcome! } };
    });
  add('relay_approval_outcomes_total', 'Device registration, approval, denial and expiry outcomes.', 'counter', () => byActionOutcome(c.approvals));
  add('relay_admin_requests_total', 'Admin API requests, by action and outcome (refusals included).', 'counter', () => byActionOutcome(c.admin));
  add('relay_push_total', 'Push dispatcher outcomes, by outcome (docs/push.md).', 'counter', () => byKey(Object.entries(svc.push.stats), 'outcome'));
  add('relay_push_queue', 'Devices waiting for a push or its retry.', 'gauge', () => one(svc.push.dispatcher.size()));
  add('relay_push_open_breakers', 'Push services whose circuit breaker is open.', 'gauge', () => one(svc.push.dispatcher.openBreakers()));
  return registry;
}
