import { cleanDisplayName, codePointLength, LIMITS, type UpdateProfileRequest, type UserPublic } from '@kkchat/protocol';
import type { Actor, Platform } from '../../context.js';
import { AppError } from '../../errors.js';
import { toUserPublic } from './users.mapper.js';
import type { UserRepository } from './users.repository.js';

/** What profiles need from the file module: an uploaded avatar becomes referenced, a replaced one released. */
export interface AvatarFiles {
  claimAvatar(actorId: string, fileId: string): Promise<void>;
  release(fileIds: string[]): Promise<void>;
}

/** Profiles: reading them and editing one's own. */
export class UserService {
  constructor(
    private readonly platform: Platform,
    private readonly users: UserRepository,
    /** Who sees a profile change live (friends); supplied by the contacts module. */
    private readonly audienceOf: (userId: string) => Promise<string[]>,
    private readonly files: AvatarFiles,
  ) {}

  async getMe(actor: Actor): Promise<UserPublic> {
    return this.getUser(actor, actor.userId);
  }

  async getUser(_actor: Actor, userId: string): Promise<UserPublic> {
    const row = await this.users.findById(userId);
    // A disabled account is hidden; a deleted one answers its anonymised profile ("Deleted user"), so clients can
    // name the sender of its old messages.
    if (!row || (row.disabled_at !== null && row.deleted_at === null)) throw new AppError('USER_NOT_FOUND');
    return toUserPublic(row);
  }

  async updateProfile(actor: Actor, request: UpdateProfileRequest): Promise<UserPublic> {
    const changes: { display_name?: string; bio?: string } = {};
    if (request.displayName !== undefined) changes.display_name = checkDisplayName(request.displayName);
    if (request.bio !== undefined) changes.bio = checkBio(request.bio);
    if (Object.keys(changes).length > 0) {
      await this.users.updateProfile(actor.userId, changes, this.platform.now());
    }
    return this.announce(actor);
  }

  /**
   * Sets (or with null clears) the avatar: an uploaded image of the user's with purpose `avatar` (the web app
   * crops it to a square first). The previous avatar is released for the file sweep.
   */
  async setAvatar(actor: Actor, fileId: string | null): Promise<UserPublic> {
    const row = await this.users.findById(actor.userId);
    if (!row) throw new AppError('USER_NOT_FOUND');
    if (fileId) await this.files.claimAvatar(actor.userId, fileId);
    await this.users.updateProfile(actor.userId, { avatar: fileId ?? '' }, this.platform.now());
    if (row.avatar && row.avatar !== fileId) await this.files.release([row.avatar]);
    return this.announce(actor);
  }

  /** The user's profile now, told to their other devices and their friends. */
  private async announce(actor: Actor): Promise<UserPublic> {
    const user = await this.getMe(actor);
    const audience = await this.audienceOf(actor.userId);
    await this.platform.bus.publish({
      kind: 'deliver',
      userIds: [actor.userId, ...audience],
      frame: { type: 'user.updated', user },
    });
    return user;
  }
}

/** Cleans a display name (BR-30) and checks what is left. */
export function checkDisplayName(raw: string): string {
  const name = cleanDisplayName(raw);
  if (name.length === 0) {
    throw new AppError('VALIDATION_FAILED', {
      fields: [{ field: 'displayName', message: 'must contain visible characters' }],
    });
  }
  if (codePointLength(name) > LIMITS.displayNameMax) {
    throw new AppError('VALIDATION_FAILED', {
      fields: [{ field: 'displayName', message: `at most ${LIMITS.displayNameMax} characters` }],
    });
  }
  return name;
}

function checkBio(raw: string): string {
  // Newlines are allowed in a bio; other control and bidi-override characters are not.
  // eslint-disable-next-line no-control-regex
  // Unpaired surrogates are not text (the database cannot store them) and are dropped too.
  const bio = raw
    .normalize('NFC')
    .replace(/[\u0000-\u0009\u000B-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/g, '')
    .replace(/[\uD800-\uDFFF]/gu, '')
    .trim();
  if (codePointLength(bio) > LIMITS.bioMax) {
    throw new AppError('VALIDATION_FAILED', { fields: [{ field: 'bio', message: `at most ${LIMITS.bioMax} characters` }] });
  }
  return bio;
}
