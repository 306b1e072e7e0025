/**
 * A traffic target whose new version gets its autoscale applied as the last part of provisioning, before the
 * rollout's first traffic write: a refused autoscale fails the provisioning, and the rollout then restores the
 * traffic it snapshotted (it has written none), so traffic stays where it was. A version that does not promote
 * has its autoscale undone once its traffic is restored (`discard`), so scaling stays where it was too. Pruning a
 * version removes its autoscale with it.
 * @module
 */
import type { TrafficTarget } from './rollout.js';

export function withAutoscale(
  target: TrafficTarget,
  hooks: {
    apply: (version: string) => Promise<void>;
    remove?: (version: string) => Promise<void>;
    /** Puts the autoscale back as it was before `apply` (none: removes it); answers what it did. */
    discard?: (version: string) => Promise<string | undefined>;
  },
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
    discard: async (version) => {
      const inner = await target.discard?.(version);
      const own = await hooks.discard?.(version);
      return [inner, own].filter(Boolean).join('; ') || undefined;
    },
  };
}
