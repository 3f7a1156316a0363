import { z } from 'zod';
import { objectId } from './common';

export const noticeBody = z.strictObject({
  to: objectId.optional(),
  content: z.string().trim().min(1).max(4096),
  event: z.string().trim().min(1).max(64).optional(),
});

export type NoticeInput = z.infer<typeof noticeBody>;
