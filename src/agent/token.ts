import { readFile } from 'node:fs/promises';
import { MeshidError } from '../common/errors.js';
import { JWT_SHAPE, MAX_TOKEN_BYTES } from '../common/token-limits.js';


/**
 * Reads the projected ServiceAccount token afresh on every call, since kubelet rotates it. The errors say
 * what is wrong with the file and never include its contents.
 */
export async function readToken(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new MeshidError('token_unreadable', `cannot read the token file ${path} (${code ?? 'error'}); is the projected token volume mounted?`);
  }
  const token = text.trim();
  if (token.length === 0) throw new MeshidError('token_empty', `the token file ${path} is empty`);
  if (token.length > MAX_TOKEN_BYTES) throw new MeshidError('token_invalid', `the token file ${path} is larger than ${MAX_TOKEN_BYTES} bytes`);
  if (!JWT_SHAPE.test(token)) throw new MeshidError('token_invalid', `the token file ${path} does not hold a JWT (three base64url parts separated by dots)`);
  return token;
}
