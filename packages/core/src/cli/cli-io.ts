/** What a command may touch of the outside world (real process streams in the binary). */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
  /** Resolves when the user asks to stop (SIGINT or SIGTERM). */
  readonly interrupted: Promise<void>;
}
