/**
 * Socket.IO room names (ARCHITECTURE.md). With the Redis adapter an emit to one of them reaches
 * every worker and machine, so delivery never needs to know where a socket lives.
 */
export const socketRooms = {
  /** every /chat socket of a user */
  user: (userId: string) => `user:${userId}`,
  /** the sockets of one login session (logout, revocation) */
  session: (sessionId: string) => `session:${sessionId}`,
  /** a user's sockets of one device class (device policy) */
  device: (userId: string, device: string) => `device:${userId}:${device}`,
  /** the members of a chat room (group) */
  room: (roomId: string) => `room:${roomId}`,
};
