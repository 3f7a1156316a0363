import { z } from 'zod';
import { freeObject, objectId } from './common';

export const username = z.string().min(3).max(32).regex(/^[A-Za-z0-9_.-]+$/, 'may contain only letters, digits, "_", "." and "-"');
// an upper bound keeps hashing cost bounded
export const password = z.string().min(8).max(128);
export const email = z.email().max(254);
const shortText = (max: number) => z.string().trim().max(max);

export const signupBody = z.strictObject({
  username,
  password,
  email: email.optional(),
  nickname: shortText(32).optional(),
  question: shortText(200).optional(),
  answer: z.string().min(1).max(200).optional(),
  profile: freeObject(4096).optional(),
}).refine(b => !b.question === !b.answer, { message: 'question and answer go together', path: [ 'answer' ] });

export const loginBody = z.strictObject({
  username: z.string().min(1).max(254).optional(),
  email: z.string().min(1).max(254).optional(),
  id: z.string().min(1).max(64).optional(),
  password: z.string().min(1).max(128),
}).refine(b => [ b.username, b.email, b.id ].filter(v => v !== undefined).length === 1,
  { message: 'give exactly one of username, email or id', path: [ 'username' ] });

export const validateBody = z.strictObject({ token: z.string().min(1).max(4096).optional() });
export const refreshBody = z.strictObject({ refreshToken: z.string().min(1).max(512) });
export const questionQuery = z.object({ username: z.string().min(1).max(32) });
export const resetBody = z.strictObject({ username: z.string().min(1).max(32), answer: z.string().min(1).max(200), newPassword: password });

export { objectId };
export type SignupInput = z.infer<typeof signupBody>;
export type LoginInput = z.infer<typeof loginBody>;
