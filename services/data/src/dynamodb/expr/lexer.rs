//! Splits expression text into tokens. Keywords are not told apart from
//! names here: the parser decides, since `SET` or `size` can be either.

use super::ExpressionKind;
use crate::dynamodb::error::{DynamoError, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// An attribute name, keyword or function name.
    Word(String),
    /// `#name`
    NamePlaceholder(String),
    /// `:value`
    ValuePlaceholder(String),
    /// Digits, as in a list index `[3]`.
    Digits(String),
    Symbol(&'static str),
}

impl Token {
    pub fn text(&self) -> &str {
        match self {
            Token::Word(text) | Token::NamePlaceholder(text) | Token::ValuePlaceholder(text) | Token::Digits(text) => {
                text
            }
            Token::Symbol(symbol) => symbol,
        }
    }

    pub fn is_keyword(&self, keyword: &str) -> bool {
        matches!(self, Token::Word(word) if word.eq_ignore_ascii_case(keyword))
    }
}

const SYMBOLS: &[&str] = &["<>", "<=", ">=", "=", "<", ">", "(", ")", "[", "]", ",", ".", "+", "-"];

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

pub fn tokenize(kind: ExpressionKind, text: &str) -> Result<Vec<Token>> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '#' || c == ':' {
            let start = i;
            i += 1;
            while i < chars.len() && is_word_char(chars[i]) {
                i += 1;
            }
            let placeholder: String = chars[start..i].iter().collect();
            if placeholder.len() == 1 {
                return Err(syntax_error(kind, &placeholder, text));
            }
            tokens.push(if c == '#' {
                Token::NamePlaceholder(placeholder)
            } else {
                Token::ValuePlaceholder(placeholder)
            });
            continue;
        }
        if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            if i < chars.len() && is_word_char(chars[i]) {
                while i < chars.len() && is_word_char(chars[i]) {
                    i += 1;
                }
                tokens.push(Token::Word(chars[start..i].iter().collect()));
            } else {
                tokens.push(Token::Digits(chars[start..i].iter().collect()));
            }
            continue;
        }
        if is_word_char(c) {
            let start = i;
            while i < chars.len() && is_word_char(chars[i]) {
                i += 1;
            }
            tokens.push(Token::Word(chars[start..i].iter().collect()));
            continue;
        }
        let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
        match SYMBOLS.iter().find(|symbol| rest.starts_with(**symbol)) {
            Some(symbol) => {
                tokens.push(Token::Symbol(symbol));
                i += symbol.chars().count();
            }
            None => {
                return Err(kind.invalid(format!("Syntax error; token: \"{c}\", near: \"{}\"", near(&chars, i))));
            }
        }
    }
    Ok(tokens)
}

fn near(chars: &[char], at: usize) -> String {
    let start = at.saturating_sub(10);
    let end = (at + 10).min(chars.len());
    chars[start..end].iter().collect::<String>().trim().to_owned()
}

fn syntax_error(kind: ExpressionKind, token: &str, near: &str) -> DynamoError {
    kind.invalid(format!("Syntax error; token: \"{token}\", near: \"{near}\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_names_placeholders_and_symbols() {
        let tokens = tokenize(ExpressionKind::Condition, "#a.b[10] <= :v AND size(x)<>:w").unwrap();
        let texts: Vec<&str> = tokens.iter().map(Token::text).collect();
        assert_eq!(texts, ["#a", ".", "b", "[", "10", "]", "<=", ":v", "AND", "size", "(", "x", ")", "<>", ":w"]);
    }

    #[test]
    fn refuses_stray_characters() {
        let error = tokenize(ExpressionKind::Update, "SET a = :v ; REMOVE b").unwrap_err();
        assert!(
            error.message().starts_with("Invalid UpdateExpression: Syntax error; token: \";\""),
            "{}",
            error.message()
        );
    }
}
