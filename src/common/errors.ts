/**
 * An error caused by the caller's input or the system's state, with a stable snake_case code.
 * Its message is safe to show: it never contains a key, a token or a CSR body.
 */
export class MeshidError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number = 400,
  ) {
    super(message);
    this.name = 'MeshidError';
  }
}

export function isMeshidError(err: unknown): err is MeshidError {
  return err instanceof MeshidError;
}

export function errorBody(code: string, message: string): { error: { code: string; message: string } } {
  return { error: { code, message } };
}
