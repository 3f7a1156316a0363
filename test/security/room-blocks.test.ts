/**
 * Finding 9: blocks applied to 1:1 messages only, so a blocked user could put the blocker into a room
 * (at creation, or as a private room's member) and message them there. Nobody can add a user who
 * blocked them to a room now: 403 / 10006, and nothing changes.
 */
import assert from 'node:assert';
import { api, signup, uniqueName } from '../helpers';
import { expectError } from '../social-helpers';

describe('security: a block also keeps the blocked user from adding the blocker to rooms (finding 9)', () => {
  it('creating a room with a member who blocked the creator is 403 / 10006 and makes no room', async () => {
    const [ victim, pest ] = await Promise.all([ signup(), signup() ]);
    assert.strictEqual((await api('POST', `/api/blocks/${pest.id}`, { token: victim.token })).status, 201);
    const name = uniqueName('room');
    const res = await api('POST', '/api/rooms', { token: pest.token, body: { name, visibility: 'private', members: [ victim.id ] } });
    expectError(res, 403, 10006);
    const mine = await api('GET', '/api/rooms?mine=1', { token: victim.token });
    assert.deepStrictEqual(mine.body.data.docs, []);
  });

  it('adding a member who blocked the adder is 403 / 10006 and leaves the room as it was', async () => {
    const [ victim, pest, friend ] = await Promise.all([ signup(), signup(), signup() ]);
    assert.strictEqual((await api('POST', `/api/blocks/${pest.id}`, { token: victim.token })).status, 201);
    const room = await api('POST', '/api/rooms', { token: pest.token, body: { name: uniqueName('room'), visibility: 'private', members: [ friend.id ] } });
    assert.strictEqual(room.status, 201, JSON.stringify(room.body));
    const res = await api('POST', `/api/rooms/${room.body.data._id}/members`, { token: pest.token, body: { add: [ victim.id ] } });
    expectError(res, 403, 10006);
    const details = await api('GET', `/api/rooms/${room.body.data._id}`, { token: pest.token });
    assert.strictEqual(details.body.data.memberCount, 2);
  });

  it('a user who blocked nobody is added as before', async () => {
    const [ owner, other ] = await Promise.all([ signup(), signup() ]);
    const room = await api('POST', '/api/rooms', { token: owner.token, body: { name: uniqueName('room'), members: [ other.id ] } });
    assert.strictEqual(room.status, 201, JSON.stringify(room.body));
    assert.strictEqual(room.body.data.memberCount, 2);
  });
});
