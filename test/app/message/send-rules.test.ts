import assert from 'node:assert';
import type { IModel } from 'egg';
import { app, signup } from '../../helpers';
import { SendRules, sendRefusal, type SendFacts } from '../../../app/message/send-rules';

const facts = (over: Partial<SendFacts> = {}): SendFacts => ({
  userExists: () => true,
  blocked: new Set(),
  isMember: () => true,
  roomExists: () => true,
  ...over,
});
const c2c = (from: string, to: string) => ({ from, input: { to, typeu: 1 as const } });
const c2g = (from: string, to: string) => ({ from, input: { to, typeu: 2 as const } });

describe('app/message/send-rules', () => {
  describe('sendRefusal (the rules)', () => {
    it('lets a c2c message to an existing peer who did not block the sender go', () => {
      assert.strictEqual(sendRefusal(c2c('a', 'b'), facts()), null);
    });

    it('refuses a message to oneself with 20003', () => {
      assert.strictEqual(sendRefusal(c2c('a', 'a'), facts())?.code, 20003);
    });

    it('refuses a message to a missing user with 20005', () => {
      assert.strictEqual(sendRefusal(c2c('a', 'b'), facts({ userExists: () => false }))?.code, 20005);
    });

    it('refuses a message to someone who blocked the sender with 20003', () => {
      assert.strictEqual(sendRefusal(c2c('a', 'b'), facts({ blocked: new Set([ 'b>a' ]) }))?.code, 20003);
    });

    it('ignores a block the sender made (they may still write)', () => {
      assert.strictEqual(sendRefusal(c2c('a', 'b'), facts({ blocked: new Set([ 'a>b' ]) })), null);
    });

    it('lets a room member send to the room', () => {
      assert.strictEqual(sendRefusal(c2g('a', 'r'), facts()), null);
    });

    it('refuses a non-member of an existing room with 20003', () => {
      assert.strictEqual(sendRefusal(c2g('a', 'r'), facts({ isMember: () => false }))?.code, 20003);
    });

    it('refuses a message to a missing room with 20005', () => {
      assert.strictEqual(sendRefusal(c2g('a', 'r'), facts({ isMember: () => false, roomExists: () => false }))?.code, 20005);
    });
  });

  describe('SendRules.check (the facts, read from the store)', () => {
    const rules = () => new SendRules(() => app.model as unknown as IModel);

    it('answers each send of a batch in order', async () => {
      const [ a, b ] = await Promise.all([ signup(), signup() ]);
      const refusals = await rules().check([ c2c(a.id, b.id), c2c(a.id, a.id), c2c(a.id, 'f'.repeat(24)) ]);
      assert.deepStrictEqual(refusals.map(r => r?.code ?? null), [ null, 20003, 20005 ]);
    });

    it('sees a block stored in the database', async () => {
      const [ a, b ] = await Promise.all([ signup(), signup() ]);
      await app.model.Block.create({ user: b.id, blocked: a.id });
      const [ refusal ] = await rules().check([ c2c(a.id, b.id) ]);
      assert.strictEqual(refusal?.code, 20003);
    });

    it('tells a missing room (20005) from a room the sender is not in (20003)', async () => {
      const owner = await signup();
      const room = await app.model.Room.create({ name: `r${Date.now()}`, nameLower: `r${Date.now()}`, owner: owner.id, members: [ owner.id ] });
      const refusals = await rules().check([ c2g(owner.id, String(room._id)), c2g(owner.id, 'e'.repeat(24)) ]);
      assert.deepStrictEqual(refusals.map(r => r?.code), [ 20003, 20005 ]);
    });
  });
});
