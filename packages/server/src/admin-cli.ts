#!/usr/bin/env node
import { ConfigError, loadConfig } from './config.js';
import { openDatabase } from './platform/db/database.js';
import { changeRoleByName, listAdmins, RoleChangeError } from './modules/admin/admin.bootstrap.js';

const HELP = `KKChat administrators

Usage: npm run admin -- <command>

  grant <username> [--reason <text>]    make an account an administrator
  revoke <username> [--reason <text>]   take the role away (never from the last active administrator)
  list                                  the active administrators

Opens the database the server uses (KKCHAT_DATABASE_URL, or the SQLite file in KKCHAT_DATA_DIR), so run it with
the same environment as the server; it may run while the server does. Every change is recorded in the audit log.
`;

/** The `admin` command: the documented way to make the first administrator (docs/architecture.md). */
async function main(argv: string[]): Promise<number> {
  const [command, username, ...rest] = argv;
  if (!command || command === '--help' || command === '-h') {
    process.stdout.write(HELP);
    return command ? 0 : 2;
  }
  if ((command === 'grant' || command === 'revoke') && !username) {
    process.stderr.write(`${command} needs a username.\n\n${HELP}`);
    return 2;
  }
  if (!['grant', 'revoke', 'list'].includes(command)) {
    process.stderr.write(`Unknown command "${command}".\n\n${HELP}`);
    return 2;
  }
  const reasonAt = rest.indexOf('--reason');
  const reason = reasonAt >= 0 ? (rest[reasonAt + 1] ?? '') : `admin ${command} (command line)`;
  const config = loadConfig();
  const db = await openDatabase({ url: config.databaseUrl, poolSize: 1, sqliteSynchronous: config.sqliteSynchronous });
  try {
    if (command === 'list') {
      const admins = await listAdmins(db);
      if (admins.length === 0) process.stdout.write('No active administrators.\n');
      for (const admin of admins) process.stdout.write(`${admin.username}\t${admin.displayName}\n`);
      return 0;
    }
    const role = command === 'grant' ? 'admin' : 'user';
    const result = await changeRoleByName(db, Date.now, username!, role, 'cli', reason);
    const name = result.username;
    const line =
      role === 'admin'
        ? result.changed ? `${name} is an administrator now.` : `${name} already is an administrator.`
        : result.changed ? `${name} is no longer an administrator.` : `${name} was not an administrator.`;
    process.stdout.write(`${line}\n`);
    return 0;
  } catch (error) {
    if (error instanceof RoleChangeError) {
      process.stderr.write(`${error.message}\n`);
      return 1;
    }
    throw error;
  } finally {
    await db.destroy();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(error instanceof ConfigError ? `${error.message}\n` : `admin failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(error instanceof ConfigError ? 2 : 1);
  },
);
