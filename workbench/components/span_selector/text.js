// Concord span selector, the text model: where a caret may stand and where a word is.
//
// An annotator sees user-perceived characters (grapheme clusters: 👩‍👩‍👧 is five code points, 🇫🇷 two,
// "é" may be two), so the caret, the mouse and a double-click move over whole clusters, and a word
// move uses the browser's word segmenter (ICU: a dictionary for Chinese and Japanese, so 成都 is a
// word and a clause is not). Offsets stay Unicode code points (Python str indices): Intl.Segmenter
// reports UTF-16 indices, converted here, and nothing outside this file sees a UTF-16 index.
// Without Intl.Segmenter a small fallback joins marks, ZWJ sequences and flag pairs, and takes runs of
// letters as words (a Han or kana character alone).
//
// Python concatenates this file before selector.js into the component's one module.

const GRAPHEME_SEGMENTER = typeof Intl !== "undefined" && Intl.Segmenter
  ? new Intl.Segmenter(undefined, { granularity: "grapheme" }) : null;
// The default locale on purpose: ICU's word rules for CJK do not depend on it.
const WORD_SEGMENTER = typeof Intl !== "undefined" && Intl.Segmenter
  ? new Intl.Segmenter(undefined, { granularity: "word" }) : null;
const WORD_CHAR = /[\p{L}\p{N}\p{M}_]/u;
const SINGLE_CHAR_WORD = /[\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}]/u;
const JOINS_PREVIOUS = /^[\p{M}\u200d\ufe0e\ufe0f\u{1F3FB}-\u{1F3FF}\u{E0020}-\u{E007F}]$/u;
const WHITESPACE = /^\s$/u;
const REGIONAL_INDICATOR = /^[\u{1F1E6}-\u{1F1FF}]$/u;

function codePointIndex(chars) {
  // UTF-16 index -> code-point index, at every code point's start and at the end.
  let units = 0;
  for (const c of chars) units += c.length;
  const at = new Int32Array(units + 1);
  let u = 0;
  chars.forEach((c, i) => { at[u] = i; u += c.length; });
  at[units] = chars.length;
  return at;
}

function segmentsOf(segmenter, text, at) {
  // [[start, end, isWordLike]] in code points.
  return Array.from(segmenter.segment(text),
    (s) => [at[s.index], at[s.index + s.segment.length], !!s.isWordLike]);
}

function fallbackClusters(chars) {
  const clusters = [];
  chars.forEach((c, i) => {
    const last = clusters[clusters.length - 1];
    const prev = chars[i - 1];
    const flagPair = last && last[1] - last[0] === 1 && REGIONAL_INDICATOR.test(prev) && REGIONAL_INDICATOR.test(c);
    if (last && (JOINS_PREVIOUS.test(c) || prev === "\u200d" || flagPair)) last[1] = i + 1;
    else clusters.push([i, i + 1]);
  });
  return clusters;
}

function fallbackWords(chars, clusters) {
  const words = [];
  for (const [a, b] of clusters) {
    const wordLike = WORD_CHAR.test(chars[a]);
    const last = words[words.length - 1];
    const alone = SINGLE_CHAR_WORD.test(chars[a]);
    if (last && wordLike && last[2] && !alone && !SINGLE_CHAR_WORD.test(chars[last[0]])) last[1] = b;
    else words.push([a, b, wordLike]);
  }
  return words;
}

class TextModel {
  constructor(text) {
    this.chars = Array.from(text || "");
    const at = codePointIndex(this.chars);
    const n = this.chars.length;
    this.clusters = GRAPHEME_SEGMENTER
      ? segmentsOf(GRAPHEME_SEGMENTER, text || "", at).map(([a, b]) => [a, b]) : fallbackClusters(this.chars);
    this.words = WORD_SEGMENTER ? segmentsOf(WORD_SEGMENTER, text || "", at) : fallbackWords(this.chars, this.clusters);
    // code point -> the cluster holding it; the end (n) -> clusters.length, the end node.
    this.clusterAt = new Int32Array(n + 1);
    this.clusters.forEach(([a, b], k) => this.clusterAt.fill(k, a, b));
    this.clusterAt[n] = this.clusters.length;
  }

  get length() { return this.chars.length; }

  nextChar(i) {
    const k = this.clusterAt[Math.max(0, Math.min(this.length, i))];
    return k < this.clusters.length ? this.clusters[k][1] : this.length;
  }

  prevChar(i) {
    return i <= 0 ? 0 : this.clusters[this.clusterAt[Math.min(this.length, i) - 1]][0];
  }

  nextWord(i) {
    // The end of the next word: skips spaces and punctuation, then the word (as an editor's ctrl+right).
    const word = this.words.find(([, b, wordLike]) => wordLike && b > i);
    return word ? word[1] : this.length;
  }

  prevWord(i) {
    const word = this.words.findLast(([a, , wordLike]) => wordLike && a < i);
    return word ? word[0] : 0;
  }

  trimmed(start, end) {
    // [start, end) without the whole whitespace clusters at either edge (as Prodigy and Label Studio
    // trim a selection): " $31" was stored with its space and the chip hid it. Empty: only whitespace.
    const blank = ([a, b]) => this.chars.slice(a, b).every((c) => WHITESPACE.test(c));
    while (start < end && blank(this.clusters[this.clusterAt[start]])) start = this.clusters[this.clusterAt[start]][1];
    while (end > start && blank(this.clusters[this.clusterAt[end - 1]])) end = this.clusters[this.clusterAt[end - 1]][0];
    return [start, Math.max(start, end)];
  }

  wordAt(i) {
    // What a double-click on code point i selects: its word, else its character.
    const word = this.words.find(([a, b]) => a <= i && i < b);
    if (word && word[2]) return [word[0], word[1]];
    return this.clusters[this.clusterAt[i]] ? [...this.clusters[this.clusterAt[i]]] : [i, i];
  }
}
