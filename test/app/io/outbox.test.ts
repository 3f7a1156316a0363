import assert from 'node:assert';
import { app, connectOk, notWithin, signup, waitFor, type AnySocket, type TestUser } from '../../helpers';
import { AppError, ErrorCode, tooManyRequests } from '../../../lib/errors';
import { socketRooms } from '../../../app/io/outbox';

/** Everything a socket receives of `event` within a short while (one delivery or none). */
const heard = (s: AnySocket, event = 'f_notice') => waitFor(s, event, 1500).then(() => true, () => false);
const online = (u: TestUser, deviceType = 'WEB') => connectOk({ token: u.token, query: { deviceType } });
const notice = { type: 'request' as const, from: { _id: 'x', username: 'x', nickname: 'x', avatar: '', intro: '' } };
const serverSocket = (s: AnySocket) => app.outbox.chat.sockets.get(s.id)!;

describe('app/io/outbox', () => {
  it('sends in the success envelope with the action key of the event', async () => {
    const u = await signup();
    const s = await online(u);
    const got = waitFor(s, 'f_notice');
    app.outbox.send({ user: u.id }, 'f_notice', notice);
    const env = await got;
    assert.deepStrictEqual([ env.code, env.data.action, env.data.payload ], [ 0, 'CHAT_FRIEND_NOTICE', notice ]);
  });

  it('a user target reaches every socket of the user', async () => {
    const u = await signup();
    const [ web, mobile ] = await Promise.all([ online(u, 'WEB'), online(u, 'MOBILE') ]);
    const got = Promise.all([ heard(web), heard(mobile) ]);
    app.outbox.send({ user: u.id }, 'f_notice', notice);
    assert.deepStrictEqual(await got, [ true, true ]);
  });

  it('a user target can leave out one socket (the one that acted)', async () => {
    const u = await signup();
    const [ web, mobile ] = await Promise.all([ online(u, 'WEB'), online(u, 'MOBILE') ]);
    const got = Promise.all([ heard(web), heard(mobile) ]);
    app.outbox.send({ user: u.id, exceptSocket: web.id }, 'f_notice', notice);
    assert.deepStrictEqual(await got, [ false, true ]);
  });

  it('a room target can leave out one user', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const [ sa, sb ] = await Promise.all([ online(a), online(b) ]);
    for (const s of [ sa, sb ]) serverSocket(s).join(socketRooms.room('outbox-room'));
    const got = Promise.all([ heard(sa), heard(sb) ]);
    app.outbox.send({ room: 'outbox-room', exceptUser: a.id }, 'f_notice', notice);
    assert.deepStrictEqual(await got, [ false, true ]);
  });

  it('a room target with users who just joined reaches each socket once', async () => {
    const [ member, newcomer ] = await Promise.all([ signup(), signup() ]);
    const [ sm, sn ] = await Promise.all([ online(member), online(newcomer) ]);
    serverSocket(sm).join(socketRooms.room('outbox-join'));
    const counts = [ 0, 0 ];
    sm.on('f_notice', () => counts[0]++);
    sn.on('f_notice', () => counts[1]++);
    app.outbox.send({ room: 'outbox-join', alsoUsers: [ member.id, newcomer.id ] }, 'f_notice', notice);
    await notWithin(sm, 'never', 300);
    assert.deepStrictEqual(counts, [ 1, 1 ]);
  });

  it('an empty list of users reaches nobody', async () => {
    const u = await signup();
    const s = await online(u);
    const got = heard(s);
    app.outbox.send({ users: [] }, 'f_notice', notice);
    assert.strictEqual(await got, false);
  });

  it('a refusal is im_error with the failed event\'s action, the code and the message', async () => {
    const u = await signup();
    const s = await online(u);
    const got = waitFor(s, 'im_error');
    app.outbox.refuse({ socket: serverSocket(s) }, 'to', new AppError(ErrorCode.CHAT_FAILED, 'nope'), 'fp-1');
    const env = await got;
    assert.deepStrictEqual([ env.code, env.meta.msg, env.data.action, env.data.payload ], [ 20003, 'nope', 'CHAT_TO', 'fp-1' ]);
  });

  it('a 20009 refusal says when to try again (meta.retryAfterMs)', async () => {
    const u = await signup();
    const s = await online(u);
    const got = waitFor(s, 'im_error');
    app.outbox.refuse({ socket: serverSocket(s) }, 'to', tooManyRequests(1500));
    assert.strictEqual((await got).meta.retryAfterMs, 1500);
  });

  it('a reply goes to the ack callback only when the client passed one', async () => {
    const u = await signup();
    const s = await online(u);
    let acked: any = null;
    const emitted = heard(s, 'to_ack');
    app.outbox.reply(serverSocket(s), env => { acked = env; }, 'to', 'to_ack', null);
    assert.deepStrictEqual([ acked?.data.action, await emitted ], [ 'CHAT_TO_ACK', false ]);
  });

  it('without an ack callback the reply is emitted as the reply event', async () => {
    const u = await signup();
    const s = await online(u);
    const got = waitFor(s, 'to_reader');
    app.outbox.reply(serverSocket(s), undefined, 'readed_message', 'to_reader', []);
    assert.strictEqual((await got).data.action, 'CHAT_TO_READED');
  });

  it('dropWith tells the socket why, then disconnects it', async () => {
    const u = await signup();
    const s = await online(u);
    const got = Promise.all([ waitFor(s, 'im_error'), waitFor(s, 'disconnect') ]);
    app.outbox.dropWith({ socket: serverSocket(s) }, new AppError(ErrorCode.DUPLICATE_CLIENT, 'replaced'));
    const [ err ] = await got;
    assert.strictEqual(err.code, 20004);
  });
});
