import type { Application } from 'egg';
import type { Model, Types } from 'mongoose';
import { API_SCOPES } from '../../lib/schemas/integration';

export type ApiScope = typeof API_SCOPES[number];

/**
 * A server API key (PROTOCOL §9). The key itself (`imk_<_id>_<secret>`) is shown once when it is
 * made; only the SHA-256 of its secret is kept (app/service/api_key.ts says why that is enough).
 */
export interface ApiKeyDoc {
  _id: Types.ObjectId;
  name: string;
  scopes: ApiScope[];
  /** hex SHA-256 of the secret part */
  secretHash: string;
  createdAt: Date;
  revokedAt: Date | null;
}

export default (app: Application): Model<ApiKeyDoc> => {
  const { Schema } = app.mongoose;
  const ApiKeySchema = new Schema<ApiKeyDoc>({
    name: { type: String, default: '' },
    scopes: { type: [ String ], enum: API_SCOPES, default: [] },
    secretHash: { type: String, required: true },
    createdAt: { type: Date, required: true },
    revokedAt: { type: Date, default: null },
  }, { versionKey: false });
  return app.mongoose.model<ApiKeyDoc>('ApiKey', ApiKeySchema);
};
