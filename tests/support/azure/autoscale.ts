/**
 * Azure Monitor autoscale settings (Microsoft.Insights 2022-10-01) for the ARM emulator, registered through
 * `handle()`: every request and response is validated against the vendored `autoscale_API.json`. A setting is
 * stored whole or refused whole, as Azure Monitor does; a setting aimed at an Azure ML deployment the emulator
 * does not hold is refused, like the service refuses a target resource that does not exist.
 */
import { armError, type ArmEmulator, type HandlerContext } from './arm-emulator.js';

export const INSIGHTS_SPEC = 'monitor/resource-manager/Microsoft.Insights/stable/2022-10-01/autoscale_API.json';

export interface AutoscaleSettingRecord {
  id: string;
  name: string;
  type: string;
  location: string;
  tags?: Record<string, string>;
  properties: Record<string, unknown> & { targetResourceUri: string; enabled?: boolean };
}

export class AutoscaleEmulator {
  readonly settings = new Map<string, AutoscaleSettingRecord>();
  /** Every PUT body, in order. */
  readonly writes: { id: string; body: unknown }[] = [];

  private constructor(readonly arm: ArmEmulator) {}

  static attach(arm: ArmEmulator): AutoscaleEmulator {
    const e = new AutoscaleEmulator(arm);
    e.register();
    return e;
  }

  /** The setting whose target is this resource. */
  forTarget(resourceId: string): AutoscaleSettingRecord | undefined {
    return [...this.settings.values()].find(
      (s) => s.properties.targetResourceUri.toLowerCase() === resourceId.toLowerCase(),
    );
  }

  private register(): void {
    const key = (ctx: HandlerContext) => ctx.id.toLowerCase();
    this.arm.handle('AutoscaleSettings_Get', (ctx) => {
      const s = this.settings.get(key(ctx));
      return s ? { status: 200, body: s } : notFound(ctx.id);
    });
    this.arm.handle('AutoscaleSettings_CreateOrUpdate', (ctx) => {
      const body = ctx.body as Omit<AutoscaleSettingRecord, 'id' | 'name' | 'type'>;
      this.writes.push({ id: ctx.id, body });
      const target = body.properties.targetResourceUri;
      if (/Microsoft\.MachineLearningServices/i.test(target) && !this.arm.get(target))
        return armError(400, 'TargetResourceNotFound', `The target resource id '${target}' was not found.`);
      const existed = this.settings.has(key(ctx));
      const name = ctx.id.split('/').pop()!;
      const record: AutoscaleSettingRecord = {
        id: ctx.id,
        name,
        type: 'Microsoft.Insights/autoscaleSettings',
        location: body.location,
        ...(body.tags ? { tags: body.tags } : {}),
        properties: { ...body.properties, name },
      };
      this.settings.set(key(ctx), record);
      return { status: existed ? 200 : 201, body: record };
    });
    this.arm.handle('AutoscaleSettings_Delete', (ctx) => {
      const existed = this.settings.delete(key(ctx));
      return { status: existed ? 200 : 204 };
    });
  }
}

function notFound(id: string) {
  return armError(404, 'ResourceNotFound', `The Resource '${id}' was not found.`);
}
