import type { Platform } from '../../context.js';
import type { PresenceChange } from '../../platform/presence/presence-store.js';
import type { UserRepository } from '../users/users.repository.js';

/**
 * Online/offline per user, from the gateway's connects and disconnects. A change goes to the user's friends
 * once per transition (first device online, last device offline), not once per device.
 */
export class PresenceService {
  constructor(
    private readonly platform: Platform,
    private readonly users: UserRepository,
    private readonly audienceOf: (userId: string) => Promise<string[]>,
  ) {
    // Transitions found by the store itself: a dead node's users swept offline, users re-announced after a
    // Redis outage (BR-34: nobody stays online because the node holding them died).
    platform.presence.onChange((changes) => {
      this.applyChanges(changes).catch((error: unknown) => platform.log.error({ err: error }, 'presence announcement failed'));
    });
  }

  async connected(userId: string, connectionId: string): Promise<void> {
    const { becameOnline } = await this.platform.presence.connect(userId, connectionId);
    if (becameOnline) await this.announce(userId, true, null);
  }

  async disconnected(userId: string, connectionId: string): Promise<void> {
    const { becameOffline } = await this.platform.presence.disconnect(userId, connectionId);
    if (!becameOffline) return;
    const now = this.platform.now();
    await this.users.setLastSeen(userId, now);
    await this.announce(userId, false, now);
  }

  private async applyChanges(changes: PresenceChange[]): Promise<void> {
    for (const change of changes) {
      if (!change.online) await this.users.setLastSeen(change.userId, change.at);
      await this.announce(change.userId, change.online, change.online ? null : change.at);
    }
  }

  private async announce(userId: string, online: boolean, lastSeenAt: number | null): Promise<void> {
    const audience = await this.audienceOf(userId);
    if (audience.length === 0) return;
    await this.platform.bus.publish({
      kind: 'deliver',
      userIds: audience,
      frame: { type: 'presence', userId, online, lastSeenAt },
    });
  }
}
