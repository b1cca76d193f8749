import { AppError } from '../../errors.js';
import type { BlockState } from './contacts.repository.js';

/**
 * Who may reach whom. A block in either direction stops requests, messages and typing; the refusal names
 * which side blocked only to the blocker (YOU_BLOCKED_USER), the blocked user learns no more than
 * BLOCKED_BY_USER.
 */
export function checkCanInteract(state: BlockState): void {
  if (state.blockedThem) throw new AppError('YOU_BLOCKED_USER');
  if (state.blockedByThem) throw new AppError('BLOCKED_BY_USER');
}
