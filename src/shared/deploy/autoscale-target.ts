/**
 * A traffic target whose new version gets its autoscale applied as the last part of provisioning, before the
 * rollout's first traffic write: a refused autoscale fails the provisioning, and the rollout then restores the
 * traffic it snapshotted (it has written none), so traffic stays where it was. Pruning a version removes its
 * autoscale with it.
 * @module
 */
import type { TrafficTarget } from './rollout.js';

export function withAutoscale(
  target: TrafficTarget,
  hooks: { apply: (version: string) => Promise<void>; remove?: (version: string) => Promise<void> },
): TrafficTarget {
  return {
    mirrors: target.mirrors,
    readTraffic: () => target.readTraffic(),
    writeTraffic: (traffic, etag, mirror) => target.writeTraffic(traffic, etag, mirror),
    listVersions: () => target.listVersions(),
    provision: async (version) => {
      await target.provision(version);
      await hooks.apply(version);
    },
    deleteVersion: async (version) => {
      await target.deleteVersion(version);
      await hooks.remove?.(version);
    },
  };
}
