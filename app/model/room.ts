import type { Application } from 'egg';
import type { Model, Types } from 'mongoose';

export const ROOM_VISIBILITY = [ 'public', 'private' ] as const;

/** A chat room (group). `members` is who is in it; conversation memberships follow it (app/service/room.ts). */
export interface RoomDoc {
  _id: Types.ObjectId;
  name: string;
  /** lower-cased copy carrying the case-insensitive unique index */
  nameLower: string;
  intro: string;
  notice: string;
  avatar: string;
  visibility: typeof ROOM_VISIBILITY[number];
  owner: Types.ObjectId;
  members: Types.ObjectId[];
  createdAt: Date;
  updatedAt: Date;
}

export default (app: Application): Model<RoomDoc> => {
  const { Schema } = app.mongoose;

  const RoomSchema = new Schema<RoomDoc>({
    name: { type: String, required: true },
    nameLower: { type: String, required: true, unique: true },
    intro: { type: String, default: '' },
    notice: { type: String, default: '' },
    avatar: { type: String, default: '' },
    visibility: { type: String, enum: ROOM_VISIBILITY, default: 'public' },
    owner: { type: Schema.Types.ObjectId, ref: 'User', required: true },
    // "rooms I am in" (connect joins, ?mine=1) is a multikey index look-up
    members: { type: [ Schema.Types.ObjectId ], ref: 'User', default: [], index: true },
  }, {
    timestamps: true,
    versionKey: false,
    toJSON: {
      transform(_doc: unknown, ret: Record<string, unknown>) {
        delete ret.nameLower;
        return ret;
      },
    },
  });
  RoomSchema.index({ visibility: 1, updatedAt: -1 });

  return app.mongoose.model<RoomDoc>('Room', RoomSchema);
};
