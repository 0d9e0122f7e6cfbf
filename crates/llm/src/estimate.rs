//! Token estimates for text when no tokenizer of the serving model is at
//! hand: about four ASCII characters per token, and one token for every
//! other character (CJK and most non-Latin scripts take one or more).

/// Estimated tokens of `text`: ceil(ASCII chars / 4) + non-ASCII chars.
/// Errs high for non-Latin text, and is never 0 for non-empty text.
pub fn estimate_tokens(text: &str) -> u64 {
    let (ascii, other) = text.chars().fold((0u64, 0u64), |(a, o), c| if c.is_ascii() { (a + 1, o) } else { (a, o + 1) });
    ascii.div_ceil(4) + other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("a"), 1);
        assert_eq!(estimate_tokens("abcd"), 1);
        assert_eq!(estimate_tokens("abcde"), 2);
        assert_eq!(estimate_tokens("你好"), 2);
        assert_eq!(estimate_tokens("hi 你好"), 3);
    }
}
