import assert from 'node:assert';
import { foldWord, indexTerms, match, parseQuery, storeTerms } from '../../../app/message/search-index';

const opts = { maxChars: 4096, maxTerms: 512 };

describe('app/message/search-index (the tokenizer, pure)', () => {
  it('folds case, compatibility forms and accents', () => {
    assert.deepStrictEqual([ 'Café', 'NAÏVE', 'Ｆｕｌｌ', 'İstanbul', 'ﬁle' ].map(foldWord), [ 'cafe', 'naive', 'full', 'istanbul', 'file' ]);
  });

  it('indexes words once each, split at punctuation, emoji and spaces', () => {
    assert.deepStrictEqual(indexTerms('Hello, hello! e-mail 👍 3.14', opts), [ 'hello', 'e', 'mail', '3', '14' ]);
  });

  it('indexes a CJK run as its bigrams and its last character', () => {
    assert.deepStrictEqual(indexTerms('你好吗', opts), [ '你好', '好吗', '吗' ]);
    assert.deepStrictEqual(indexTerms('東京タワー', opts), [ '東京', '京タ', 'タワ', 'ワー', 'ー' ]);
    assert.deepStrictEqual(indexTerms('한', opts), [ '한' ]);
  });

  it('half-width katakana index as full-width; Hangul syllables stay whole', () => {
    assert.deepStrictEqual(indexTerms('ﾃｽﾄ', opts), [ 'テス', 'スト', 'ト' ]);
    assert.deepStrictEqual(indexTerms('안녕', opts), [ '안녕', '녕' ]);
  });

  it('indexes only the first maxChars characters and at most maxTerms terms', () => {
    assert.deepStrictEqual(indexTerms('alpha beta gamma', { maxChars: 10, maxTerms: 10 }), [ 'alpha', 'beta' ]);
    assert.strictEqual(indexTerms(Array.from({ length: 50 }, (_, i) => `w${i}`).join(' '), { maxChars: 4096, maxTerms: 7 }).length, 7);
  });

  it('a query: whole words, the last word as a prefix, CJK runs as bigrams, one CJK character as a prefix', () => {
    assert.deepStrictEqual(storeTerms(parseQuery('Hello wor')), { all: [ 'hello' ], prefixes: [ '^wor' ] });
    assert.deepStrictEqual(storeTerms(parseQuery('北京 开会')), { all: [ '北京', '开会' ], prefixes: [] });
    assert.deepStrictEqual(storeTerms(parseQuery('京')), { all: [], prefixes: [ '^京' ] });
    assert.strictEqual(storeTerms(parseQuery('?! ...')), null);
  });

  it('punctuation splits words, so none reaches a prefix pattern', () => {
    assert.deepStrictEqual(storeTerms(parseQuery('a.b')), { all: [ 'a' ], prefixes: [ '^b' ] });
  });

  it('match confirms contiguity of CJK runs and gives merged UTF-16 spans', () => {
    assert.strictEqual(match('北方的京剧', parseQuery('北京')), null);
    assert.deepStrictEqual(match('去北京开会', parseQuery('北京开')), [[ 1, 4 ]]);
    assert.deepStrictEqual(match('😀 hello Hello', parseQuery('hello')), [[ 3, 8 ], [ 9, 14 ]]);
    assert.deepStrictEqual(match('hello world', parseQuery('hello wo')), [[ 0, 5 ], [ 6, 11 ]]);
    assert.strictEqual(match('hello', parseQuery('hello there')), null);
  });
});
