//! The `smollm` pre-tokenizer, as llama.cpp applies it to SmolLM2's GGUF (`tokenizer.ggml.pre =
//! "smollm"`): first every number character (`\p{N}`) becomes a piece of its own, then each
//! stretch between them is split by the GPT-2 pattern
//! `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)` with llama.cpp's
//! reading of it (case-sensitive contractions; lookahead confined to the stretch).
//!
//! Cost: one pass, O(1) work per character (every step consumes at least one character and
//! looks at most two ahead), no allocation besides the output.

use super::{class::Class, classes::RANGES};

/// The class of `c` (Unicode 15.1, as the reference's tables).
pub(super) fn class(c: char) -> Class {
    if c.is_ascii() {
        return match c {
            'a'..='z' | 'A'..='Z' => Class::Letter,
            '0'..='9' => Class::Number,
            '\t' | '\n' | '\x0b' | '\x0c' | '\r' | ' ' => Class::Space,
            _ => Class::Other,
        };
    }
    if c.is_whitespace() {
        return Class::Space;
    }
    let cp = c as u32;
    let at = RANGES.partition_point(|&(_, last, _)| last < cp);
    match RANGES.get(at) {
        Some(&(first, _, class)) if first <= cp => class,
        _ => Class::Other,
    }
}

/// Calls `piece` with each pre-token of `text`, in order; the pieces concatenate to `text`.
pub(super) fn pieces<'a>(text: &'a str, mut piece: impl FnMut(&'a str)) {
    let mut start = 0;
    for (at, c) in text.char_indices() {
        if class(c) == Class::Number {
            split_gpt2(&text[start..at], &mut piece);
            let end = at + c.len_utf8();
            piece(&text[at..end]);
            start = end;
        }
    }
    split_gpt2(&text[start..], &mut piece);
}

/// A cursor over one stretch of text: classes of the characters at and after a byte position,
/// nothing beyond the stretch.
struct Stretch<'a> {
    text: &'a str,
}

impl Stretch<'_> {
    fn char_at(&self, at: usize) -> Option<char> {
        self.text.get(at..).and_then(|s| s.chars().next())
    }

    fn class_at(&self, at: usize) -> Option<Class> {
        self.char_at(at).map(class)
    }

    /// The byte position after the run of characters from `at` whose class is `want`.
    fn run_end(&self, mut at: usize, want: Class) -> usize {
        while let Some(c) = self.char_at(at) {
            if class(c) != want {
                break;
            }
            at += c.len_utf8();
        }
        at
    }

    /// Where the pattern's match starting at `at` (a character boundary inside) ends.
    fn match_end(&self, at: usize) -> usize {
        let c = self.char_at(at).expect("a position inside the stretch");
        let next = at + c.len_utf8();
        if c == '\'' {
            let n1 = self.char_at(next);
            if matches!(n1, Some('s' | 't' | 'm' | 'd')) {
                return next + 1;
            }
            let n2 = self.char_at(next + 1);
            if matches!(
                (n1, n2),
                (Some('r'), Some('e')) | (Some('v'), Some('e')) | (Some('l'), Some('l'))
            ) {
                return next + 2;
            }
        }
        // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional space, then a run.
        let (body, body_class) =
            if c == ' ' { (next, self.class_at(next)) } else { (at, Some(class(c))) };
        match body_class {
            Some(k @ (Class::Letter | Class::Number | Class::Other)) => {
                return self.run_end(body, k);
            }
            Some(Class::Space) | None => {}
        }
        // `\s+(?!\S)` leaves the last space of a run for the next piece when a character
        // follows in the stretch; `\s+` takes the whole run otherwise.
        let end = self.run_end(at, Class::Space);
        let last = self.text[..end].chars().next_back().map_or(0, char::len_utf8);
        if end < self.text.len() && end - last > at { end - last } else { end }
    }
}

/// The GPT-2 split of one stretch that holds no number character.
fn split_gpt2<'a>(text: &'a str, piece: &mut impl FnMut(&'a str)) {
    let stretch = Stretch { text };
    let mut at = 0;
    while at < text.len() {
        // Every match is non-empty, so the loop advances by at least one character.
        let end = stretch.match_end(at).max(at + 1);
        let end = (end..=text.len()).find(|&e| text.is_char_boundary(e)).unwrap_or(text.len());
        piece(&text[at..end]);
        at = end;
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use super::*;

    fn split(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        pieces(text, |p| out.push(p));
        out
    }

    #[test]
    fn follows_the_gpt2_pattern_with_single_digits() {
        assert_eq!(split("Hello world"), ["Hello", " world"]);
        assert_eq!(
            split("it's 42!  ok\nyes"),
            ["it", "'s", " ", "4", "2", "!", " ", " ok", "\n", "yes"]
        );
        assert_eq!(split("a  "), ["a", "  "]);
        assert_eq!(split("a  b"), ["a", " ", " b"]);
        assert_eq!(split("a \n b"), ["a", " \n", " b"]);
        assert_eq!(split("x²³"), ["x", "²", "³"]);
        assert_eq!(split("naïve café"), ["naïve", " café"]);
        // Contractions are case-sensitive, as in GPT-2.
        assert_eq!(split("WE'RE we're"), ["WE", "'", "RE", " we", "'re"]);
    }

    #[test]
    fn apostrophes_in_every_position_make_progress() {
        // A trailing apostrophe once looped forever, allocating empty pieces.
        assert_eq!(split("students'"), ["students", "'"]);
        assert_eq!(split("'"), ["'"]);
        assert_eq!(split("''"), ["''"]);
        assert_eq!(split("!!'s"), ["!!'", "s"]);
        assert_eq!(split("rock 'n' roll"), ["rock", " '", "n", "'", " roll"]);
        assert_eq!(split("' '"), ["'", " '"]);
        assert_eq!(split("x'"), ["x", "'"]);
        assert_eq!(split("'ll'd'"), ["'ll", "'d", "'"]);
    }

    #[test]
    fn pieces_concatenate_to_the_text() {
        for text in
            ["", " ", "\u{3000}x", "a\u{0301}b", "\t\t x", "日本語 テキスト", "🙂 ok", "\u{85}a"]
        {
            assert_eq!(split(text).concat(), text, "{text:?}");
            assert!(split(text).iter().all(|p| !p.is_empty()), "{text:?}");
        }
    }

    #[test]
    fn classes_follow_unicode_15_1() {
        assert_eq!(super::super::UNICODE_VERSION, "15.1.0");
        assert_eq!(class('é'), Class::Letter);
        assert_eq!(class('٣'), Class::Number); // Arabic-Indic digit three
        assert_eq!(class('Ⅻ'), Class::Number); // Nl
        assert_eq!(class('\u{0301}'), Class::Other); // a combining mark is not a letter
        assert_eq!(class('\u{00A0}'), Class::Space);
        assert_eq!(class('\u{85}'), Class::Space);
        assert_eq!(class('\u{200B}'), Class::Other); // zero width space: not White_Space
        assert_eq!(class('\u{2EBF0}'), Class::Letter); // CJK Extension I (new in 15.1)
        assert_eq!(class('\u{1C89}'), Class::Other); // assigned only in Unicode 16
    }
}
