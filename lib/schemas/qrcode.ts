import { z } from 'zod';

/** A QR-code login id as the phone read it: any string that is not an id we issued is just unknown (20006). */
export const deviceIdBody = z.strictObject({ deviceId: z.string().min(1).max(64) });

/** `GET /api/qrcode/:deviceId` */
export const deviceIdParam = z.object({ deviceId: z.string().min(1).max(64) });
