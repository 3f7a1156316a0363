import assert from 'node:assert';
import { app, signup } from '../../helpers';
import { makeRoom } from '../../message-helpers';
import { commandsDuring } from '../../db-commands';
import { RoomSizes } from '../../../app/message/ticks';

/** Room sizes (delivery ticks, room typing): the acks of a fan-out all ask at once. */
describe('app/message/ticks: room sizes', () => {
  it('a room\'s size asked many times at once is read once', async () => {
    const [ owner, a, b ] = await Promise.all([ signup(), signup(), signup() ]);
    const roomId = await makeRoom(owner, [ a, b ]);
    const sizes = new RoomSizes(() => app.model.Room);
    let answers: number[] = [];
    const cmds = await commandsDuring(async () => {
      answers = await Promise.all(Array.from({ length: 20 }, () => sizes.of(roomId)));
    });
    assert.deepStrictEqual(answers, answers.map(() => 3));
    assert.strictEqual(cmds.filter(c => c.collection === 'rooms').length, 1);
  });
});
