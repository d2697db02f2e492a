/**
 * Exit codes are part of rpcl's contract with scripts and schedulers (see README).
 * Each failure class has its own code so a wrapper can tell "fix the config" from
 * "the database was down" from "a table was refused" from "a table run failed".
 */
export const ExitCode = {
  ok: 0,
  internal: 1,
  usage: 2,
  config: 3,
  connection: 4,
  refused: 5,
  failed: 6,
  alreadyRunning: 7,
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error meant for the user: `message` says what is wrong and what to do next. */
export class RpclError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class UsageError extends RpclError {
  constructor(message: string) {
    super(message, ExitCode.usage);
  }
}

/** Every problem found in a configuration file, reported together. */
export class ConfigError extends RpclError {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(
      problems.length === 1
        ? `configuration error in ${file}: ${problems[0]}`
        : `${problems.length} configuration errors in ${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      ExitCode.config,
    );
  }
}

export class ConnectionError extends RpclError {
  constructor(message: string) {
    super(message, ExitCode.connection);
  }
}

export class AlreadyRunningError extends RpclError {
  constructor(message: string) {
    super(message, ExitCode.alreadyRunning);
  }
}
