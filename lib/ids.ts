/** MongoDB ObjectIds as the contract's hex strings (PROTOCOL §1). */
import { Types } from 'mongoose';

const OBJECT_ID = /^[0-9a-f]{24}$/i;

/** Whether a value is a 24-hex-digit id (checked before any id reaches a query). */
export const isObjectId = (value: unknown): value is string => typeof value === 'string' && OBJECT_ID.test(value);

/** An id string as an ObjectId, for queries and documents. */
export const oid = (id: string) => new Types.ObjectId(id);
