//! A recursive-descent parser for DynamoDB's expression grammar:
//!
//! ```text
//! condition  := or
//! or         := and ("OR" and)*
//! and        := not ("AND" not)*
//! not        := "NOT" not | primary
//! primary    := "(" condition ")" | function "(" operands ")"
//!             | operand comparator operand | operand "BETWEEN" operand "AND" operand
//!             | operand "IN" "(" operand ("," operand)* ")"
//! operand    := path | :value | "size" "(" path ")"
//! path       := name ("." name | "[" digits "]")*        name := word | #placeholder
//! update     := (("SET" set ("," set)*) | ("REMOVE" path ("," path)*)
//!              | ("ADD" path :value ("," ...)*) | ("DELETE" path :value ("," ...)*))+
//! set        := path "=" setop (("+" | "-") setop)?
//! setop      := path | :value | "if_not_exists" "(" path "," setop ")"
//!             | "list_append" "(" setop "," setop ")"
//! projection := path ("," path)*
//! ```
//!
//! Keywords are case-insensitive, function names are not, as in DynamoDB.

use super::{
    ExpressionKind, Placeholders,
    ast::{Comparator, Condition, Operand, Path, PathElement, SetOperand, SetValue, Update},
    lexer::{Token, tokenize},
};
use crate::dynamodb::{
    error::{DynamoError, Result},
    value::AttributeValue,
};

const CONDITION_FUNCTIONS: &[&str] =
    &["attribute_exists", "attribute_not_exists", "attribute_type", "begins_with", "contains", "size"];
const UPDATE_FUNCTIONS: &[&str] = &["if_not_exists", "list_append"];
/// The deepest document path DynamoDB accepts.
const MAX_PATH_DEPTH: usize = 32;
/// DynamoDB's limit on the size of one expression (4 KB).
const MAX_EXPRESSION_BYTES: usize = 4096;
/// How deep parentheses and NOTs may nest; bounds the parser's recursion.
const MAX_NESTING: usize = 64;

struct Parser<'a> {
    kind: ExpressionKind,
    tokens: Vec<Token>,
    position: usize,
    placeholders: &'a mut Placeholders,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn new(kind: ExpressionKind, text: &str, placeholders: &'a mut Placeholders) -> Result<Self> {
        if text.trim().is_empty() {
            return Err(kind.invalid("The expression can not be empty;"));
        }
        if text.len() > MAX_EXPRESSION_BYTES {
            return Err(kind.invalid(format!(
                "Expression size has exceeded the maximum allowed size; expression size: {}",
                text.len()
            )));
        }
        Ok(Self { kind, tokens: tokenize(kind, text)?, position: 0, placeholders, depth: 0 })
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.position)
    }

    fn peek_at(&self, offset: usize) -> Option<&Token> {
        self.tokens.get(self.position + offset)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.position).cloned();
        self.position += 1;
        token
    }

    fn syntax_error(&self) -> DynamoError {
        let token = self.peek().map(Token::text).unwrap_or("<EOF>");
        let start = self.position.saturating_sub(1);
        let near: Vec<&str> = self.tokens[start.min(self.tokens.len())..(self.position + 2).min(self.tokens.len())]
            .iter()
            .map(Token::text)
            .collect();
        self.kind.invalid(format!("Syntax error; token: \"{token}\", near: \"{}\"", near.join(" ")))
    }

    fn expect_symbol(&mut self, symbol: &str) -> Result<()> {
        match self.peek() {
            Some(Token::Symbol(s)) if *s == symbol => {
                self.position += 1;
                Ok(())
            }
            _ => Err(self.syntax_error()),
        }
    }

    fn at_symbol(&self, symbol: &str) -> bool {
        matches!(self.peek(), Some(Token::Symbol(s)) if *s == symbol)
    }

    fn at_keyword(&self, keyword: &str) -> bool {
        self.peek().is_some_and(|token| token.is_keyword(keyword))
    }

    fn finish(&self) -> Result<()> {
        if self.position < self.tokens.len() { Err(self.syntax_error()) } else { Ok(()) }
    }

    fn path(&mut self) -> Result<Path> {
        let mut path = vec![PathElement::Name(self.name()?)];
        loop {
            if self.at_symbol(".") {
                self.position += 1;
                path.push(PathElement::Name(self.name()?));
            } else if self.at_symbol("[") {
                self.position += 1;
                let index = match self.next() {
                    Some(Token::Digits(digits)) => digits.parse::<usize>().map_err(|_| self.syntax_error())?,
                    _ => {
                        self.position -= 1;
                        return Err(self.syntax_error());
                    }
                };
                self.expect_symbol("]")?;
                path.push(PathElement::Index(index));
            } else {
                break;
            }
        }
        if path.len() > MAX_PATH_DEPTH {
            return Err(self
                .kind
                .invalid(format!("The document path has too many nesting levels; nesting levels: {}", path.len())));
        }
        Ok(path)
    }

    fn name(&mut self) -> Result<String> {
        match self.peek().cloned() {
            Some(Token::Word(word)) => {
                if is_reserved(&word) {
                    return Err(self
                        .kind
                        .invalid(format!("Attribute name is a reserved keyword; reserved keyword: {word}")));
                }
                self.position += 1;
                Ok(word)
            }
            Some(Token::NamePlaceholder(placeholder)) => {
                self.position += 1;
                self.placeholders.name(self.kind, &placeholder)
            }
            _ => Err(self.syntax_error()),
        }
    }

    fn value(&mut self) -> Result<AttributeValue> {
        match self.next() {
            Some(Token::ValuePlaceholder(placeholder)) => self.placeholders.value(self.kind, &placeholder),
            _ => {
                self.position -= 1;
                Err(self.syntax_error())
            }
        }
    }

    fn is_function_call(&self) -> bool {
        matches!(self.peek(), Some(Token::Word(_))) && matches!(self.peek_at(1), Some(Token::Symbol("(")))
    }

    fn function_name(&mut self, allowed: &[&str]) -> Result<String> {
        let Some(Token::Word(name)) = self.next() else { return Err(self.syntax_error()) };
        if !allowed.contains(&name.as_str()) {
            let known = CONDITION_FUNCTIONS.contains(&name.as_str()) || UPDATE_FUNCTIONS.contains(&name.as_str());
            return Err(self.kind.invalid(if known {
                format!("The function is not allowed in a {} expression; function: {name}", self.kind_noun())
            } else {
                format!("Invalid function name; function: {name}")
            }));
        }
        self.expect_symbol("(")?;
        Ok(name)
    }

    fn kind_noun(&self) -> &'static str {
        match self.kind {
            ExpressionKind::Update => "update",
            ExpressionKind::Projection => "projection",
            _ => "condition",
        }
    }

    // ---- conditions ----

    fn condition(&mut self) -> Result<Condition> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.kind.invalid("The expression has too many levels of nesting"));
        }
        let condition = self.or();
        self.depth -= 1;
        condition
    }

    fn or(&mut self) -> Result<Condition> {
        let mut left = self.and()?;
        while self.at_keyword("OR") {
            self.position += 1;
            let right = self.and()?;
            left = Condition::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Condition> {
        let mut left = self.not()?;
        while self.at_keyword("AND") {
            self.position += 1;
            let right = self.not()?;
            left = Condition::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Condition> {
        if self.at_keyword("NOT") {
            self.position += 1;
            self.depth += 1;
            if self.depth > MAX_NESTING {
                return Err(self.kind.invalid("The expression has too many levels of nesting"));
            }
            let inner = self.not();
            self.depth -= 1;
            return Ok(Condition::Not(Box::new(inner?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Condition> {
        if self.at_symbol("(") {
            self.position += 1;
            let start = self.position;
            let inner = self.condition()?;
            // DynamoDB refuses a group that only wraps another group,
            // `((a = :v))`; `((a = :v) AND b = :w)`, as boto3's condition
            // builder writes nested conditions, is fine.
            if self.at_symbol(")") && self.group_end(start) == Some(self.position - 1) {
                return Err(self.kind.invalid("The expression has redundant parentheses;"));
            }
            self.expect_symbol(")")?;
            return Ok(inner);
        }
        if self.is_function_call() && !matches!(self.peek(), Some(Token::Word(w)) if w == "size") {
            return self.function_condition();
        }
        let left = self.operand()?;
        if self.at_keyword("BETWEEN") {
            self.position += 1;
            let low = self.operand()?;
            if !self.at_keyword("AND") {
                return Err(self.syntax_error());
            }
            self.position += 1;
            let high = self.operand()?;
            if let (Operand::Value(low), Operand::Value(high)) = (&low, &high)
                && super::eval::compare(low, high) == Some(std::cmp::Ordering::Greater)
            {
                return Err(self.kind.invalid(format!(
                    "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {}, upper bound operand: AttributeValue: {}",
                    describe_value(low),
                    describe_value(high)
                )));
            }
            return Ok(Condition::Between(left, low, high));
        }
        if self.at_keyword("IN") {
            self.position += 1;
            self.expect_symbol("(")?;
            let mut candidates = vec![self.operand()?];
            while self.at_symbol(",") {
                self.position += 1;
                candidates.push(self.operand()?);
            }
            self.expect_symbol(")")?;
            if candidates.len() > 100 {
                return Err(self.kind.invalid(format!(
                    "The IN operator is provided with too many operands; number of operands: {}",
                    candidates.len()
                )));
            }
            return Ok(Condition::In(left, candidates));
        }
        let comparator = match self.peek() {
            Some(Token::Symbol("=")) => Comparator::Eq,
            Some(Token::Symbol("<>")) => Comparator::Ne,
            Some(Token::Symbol("<")) => Comparator::Lt,
            Some(Token::Symbol("<=")) => Comparator::Le,
            Some(Token::Symbol(">")) => Comparator::Gt,
            Some(Token::Symbol(">=")) => Comparator::Ge,
            _ => {
                if let Operand::Size(_) = left {
                    return Err(self
                        .kind
                        .invalid("The function is not allowed to be used this way in an expression; function: size"));
                }
                return Err(self.syntax_error());
            }
        };
        self.position += 1;
        let right = self.operand()?;
        Ok(Condition::Compare(left, comparator, right))
    }

    /// Where the group opened at `start` closes, if a group opens there.
    fn group_end(&self, start: usize) -> Option<usize> {
        if !matches!(self.tokens.get(start), Some(Token::Symbol("("))) {
            return None;
        }
        let mut depth = 0usize;
        for (offset, token) in self.tokens[start..].iter().enumerate() {
            match token {
                Token::Symbol("(") => depth += 1,
                Token::Symbol(")") => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(start + offset);
                    }
                }
                _ => {}
            }
        }
        None
    }

    fn function_condition(&mut self) -> Result<Condition> {
        let name = self.function_name(CONDITION_FUNCTIONS)?;
        let mut operands = Vec::new();
        if !self.at_symbol(")") {
            operands.push(self.operand()?);
            while self.at_symbol(",") {
                self.position += 1;
                operands.push(self.operand()?);
            }
        }
        self.expect_symbol(")")?;
        let expected = match name.as_str() {
            "attribute_exists" | "attribute_not_exists" => 1,
            _ => 2,
        };
        if operands.len() != expected {
            return Err(self.kind.invalid(format!(
                "Incorrect number of operands for operator or function; operator or function: {name}, number of operands: {}",
                operands.len()
            )));
        }
        let needs_path =
            |operand: &Operand, kind: ExpressionKind| match operand {
                Operand::Path(path) => Ok(path.clone()),
                _ => Err(kind
                    .invalid(format!("Operator or function requires a document path; operator or function: {name}"))),
            };
        let mut operands = operands.into_iter();
        let first = operands.next().ok_or_else(|| self.syntax_error())?;
        Ok(match name.as_str() {
            "attribute_exists" => Condition::AttributeExists(needs_path(&first, self.kind)?),
            "attribute_not_exists" => Condition::AttributeNotExists(needs_path(&first, self.kind)?),
            "attribute_type" => {
                let path = needs_path(&first, self.kind)?;
                let type_operand = operands.next().ok_or_else(|| self.syntax_error())?;
                if let Operand::Value(value) = &type_operand {
                    check_type_name(self.kind, value)?;
                }
                Condition::AttributeType(path, type_operand)
            }
            "begins_with" => Condition::BeginsWith(first, operands.next().ok_or_else(|| self.syntax_error())?),
            "contains" => Condition::Contains(first, operands.next().ok_or_else(|| self.syntax_error())?),
            _ => return Err(self.syntax_error()),
        })
    }

    fn operand(&mut self) -> Result<Operand> {
        match self.peek() {
            Some(Token::ValuePlaceholder(_)) => Ok(Operand::Value(self.value()?)),
            Some(Token::Word(word)) if self.is_function_call() => {
                if word == "size" {
                    self.function_name(&["size"])?;
                    let path = match self.operand()? {
                        Operand::Path(path) => path,
                        _ => {
                            return Err(self
                                .kind
                                .invalid("Operator or function requires a document path; operator or function: size"));
                        }
                    };
                    self.expect_symbol(")")?;
                    Ok(Operand::Size(path))
                } else if CONDITION_FUNCTIONS.contains(&word.as_str()) {
                    let word = word.clone();
                    Err(self.kind.invalid(format!(
                        "The function is not allowed to be used this way in an expression; function: {word}"
                    )))
                } else {
                    let word = word.clone();
                    Err(self.kind.invalid(format!("Invalid function name; function: {word}")))
                }
            }
            Some(Token::Word(_)) | Some(Token::NamePlaceholder(_)) => Ok(Operand::Path(self.path()?)),
            _ => Err(self.syntax_error()),
        }
    }

    // ---- updates ----

    fn update(&mut self) -> Result<Update> {
        let mut update = Update::default();
        let mut seen: Vec<&'static str> = Vec::new();
        while let Some(token) = self.peek().cloned() {
            let clause = ["SET", "REMOVE", "ADD", "DELETE"]
                .into_iter()
                .find(|keyword| token.is_keyword(keyword))
                .ok_or_else(|| self.syntax_error())?;
            if seen.contains(&clause) {
                return Err(self
                    .kind
                    .invalid(format!("The \"{clause}\" section can only be used once in an update expression;")));
            }
            seen.push(clause);
            self.position += 1;
            loop {
                match clause {
                    "SET" => {
                        let path = self.path()?;
                        self.expect_symbol("=")?;
                        let value = self.set_value()?;
                        update.set.push((path, value));
                    }
                    "REMOVE" => update.remove.push(self.path()?),
                    "ADD" => {
                        let path = self.path()?;
                        let value = self.value()?;
                        update.add.push((path, value));
                    }
                    _ => {
                        let path = self.path()?;
                        let value = self.value()?;
                        update.delete.push((path, value));
                    }
                }
                if self.at_symbol(",") {
                    self.position += 1;
                } else {
                    break;
                }
            }
        }
        Ok(update)
    }

    fn set_value(&mut self) -> Result<SetValue> {
        let left = self.set_operand()?;
        for (symbol, make) in [("+", SetValue::Plus as fn(_, _) -> _), ("-", SetValue::Minus as fn(_, _) -> _)] {
            if self.at_symbol(symbol) {
                self.position += 1;
                let right = self.set_operand()?;
                // Literal operands are checked before any item is read.
                for operand in [&left, &right] {
                    if let SetOperand::Value(value) = operand
                        && !matches!(value, AttributeValue::N(_))
                    {
                        return Err(self.incorrect_operand(symbol, value));
                    }
                }
                return Ok(make(left, right));
            }
        }
        Ok(SetValue::Operand(left))
    }

    fn incorrect_operand(&self, operator: &str, value: &AttributeValue) -> DynamoError {
        self.kind.invalid(format!(
            "Incorrect operand type for operator or function; operator or function: {operator}, operand type: {}",
            crate::dynamodb::value::type_name(value)
        ))
    }

    fn set_operand(&mut self) -> Result<SetOperand> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.kind.invalid("The expression has too many levels of nesting"));
        }
        let operand = self.set_operand_inner();
        self.depth -= 1;
        operand
    }

    fn set_operand_inner(&mut self) -> Result<SetOperand> {
        match self.peek() {
            Some(Token::ValuePlaceholder(_)) => Ok(SetOperand::Value(self.value()?)),
            Some(Token::Word(_)) if self.is_function_call() => {
                let name = self.function_name(UPDATE_FUNCTIONS)?;
                let first = self.set_operand()?;
                self.expect_symbol(",")?;
                let second = self.set_operand()?;
                self.expect_symbol(")")?;
                match name.as_str() {
                    "if_not_exists" => match first {
                        SetOperand::Path(path) => Ok(SetOperand::IfNotExists(path, Box::new(second))),
                        _ => Err(self.kind.invalid(
                            "Operator or function requires a document path; operator or function: if_not_exists",
                        )),
                    },
                    _ => {
                        for operand in [&first, &second] {
                            if let SetOperand::Value(value) = operand
                                && !matches!(value, AttributeValue::L(_))
                            {
                                return Err(self.incorrect_operand("list_append", value));
                            }
                        }
                        Ok(SetOperand::ListAppend(Box::new(first), Box::new(second)))
                    }
                }
            }
            Some(Token::Word(_)) | Some(Token::NamePlaceholder(_)) => Ok(SetOperand::Path(self.path()?)),
            _ => Err(self.syntax_error()),
        }
    }
}

/// DynamoDB's reserved words, which a bare attribute name may not be.
const RESERVED_WORDS: &str = include_str!("reserved_words.txt");

fn is_reserved(word: &str) -> bool {
    use std::sync::OnceLock;
    static WORDS: OnceLock<std::collections::HashSet<&'static str>> = OnceLock::new();
    let words = WORDS
        .get_or_init(|| RESERVED_WORDS.lines().filter(|line| !line.starts_with('#') && !line.is_empty()).collect());
    words.contains(word.to_ascii_uppercase().as_str())
}

fn check_type_name(kind: ExpressionKind, value: &AttributeValue) -> Result<()> {
    const TYPES: &[&str] = &["S", "SS", "N", "NS", "B", "BS", "BOOL", "NULL", "L", "M"];
    match value {
        AttributeValue::S(name) if TYPES.contains(&name.as_str()) => Ok(()),
        AttributeValue::S(name) => Err(kind.invalid(format!(
            "Invalid attribute type name found; type: {name}, valid types: {{B,NULL,SS,BOOL,L,BS,N,NS,S,M}}"
        ))),
        other => Err(kind.invalid(format!(
            "Incorrect operand type for operator or function; operator or function: attribute_type, operand type: {}",
            crate::dynamodb::value::type_name(other)
        ))),
    }
}

/// A value as DynamoDB's messages print it: `{N:5}`.
pub fn describe_value(value: &AttributeValue) -> String {
    let json = value.to_json();
    let Some((kind, inner)) = json.as_object().and_then(|o| o.iter().next()) else { return String::new() };
    let inner = match inner {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    format!("{{{kind}:{inner}}}")
}

/// Parses a condition, filter or key condition expression.
pub fn parse_condition(kind: ExpressionKind, text: &str, placeholders: &mut Placeholders) -> Result<Condition> {
    let mut parser = Parser::new(kind, text, placeholders)?;
    let condition = parser.condition()?;
    parser.finish()?;
    Ok(condition)
}

/// Parses an update expression and checks its paths do not overlap.
pub fn parse_update(text: &str, placeholders: &mut Placeholders) -> Result<Update> {
    let mut parser = Parser::new(ExpressionKind::Update, text, placeholders)?;
    let update = parser.update()?;
    parser.finish()?;
    let paths = update.paths();
    for (i, first) in paths.iter().enumerate() {
        for second in &paths[i + 1..] {
            let shorter = first.len().min(second.len());
            if first[..shorter] == second[..shorter] {
                return Err(ExpressionKind::Update.invalid(format!(
                    "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: {}, path two: {}",
                    super::ast::describe(first),
                    super::ast::describe(second)
                )));
            }
        }
    }
    Ok(update)
}

/// Parses a projection expression into its paths.
pub fn parse_projection(text: &str, placeholders: &mut Placeholders) -> Result<Vec<Path>> {
    let mut parser = Parser::new(ExpressionKind::Projection, text, placeholders)?;
    let mut paths = vec![parser.path()?];
    while parser.at_symbol(",") {
        parser.position += 1;
        paths.push(parser.path()?);
    }
    parser.finish()?;
    for (i, first) in paths.iter().enumerate() {
        for second in &paths[i + 1..] {
            let shorter = first.len().min(second.len());
            if first[..shorter] == second[..shorter] {
                return Err(ExpressionKind::Projection.invalid(format!(
                    "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: {}, path two: {}",
                    super::ast::describe(first),
                    super::ast::describe(second)
                )));
            }
        }
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamodb::number::Number;

    fn n(text: &str) -> AttributeValue {
        AttributeValue::N(text.parse::<Number>().unwrap())
    }

    fn placeholders() -> Placeholders {
        Placeholders::with(
            &[("#n", "name"), ("#k", "key word")],
            &[(":v", n("1")), (":w", n("5")), (":s", AttributeValue::S("x".into())), (":l", AttributeValue::L(vec![]))],
        )
    }

    fn name(text: &str) -> PathElement {
        PathElement::Name(text.into())
    }

    #[test]
    fn precedence_is_not_then_and_then_or() {
        let mut p = placeholders();
        let parsed = parse_condition(ExpressionKind::Condition, "a = :v OR NOT b = :v AND c = :v", &mut p).unwrap();
        let Condition::Or(_, right) = parsed else { panic!("OR binds loosest: {parsed:?}") };
        let Condition::And(left, _) = *right else { panic!("AND binds tighter") };
        assert!(matches!(*left, Condition::Not(_)));
    }

    #[test]
    fn paths_resolve_placeholders_and_indexes() {
        let mut p = placeholders();
        let parsed = parse_condition(ExpressionKind::Condition, "#n.nested[2].#k = :s", &mut p).unwrap();
        let Condition::Compare(Operand::Path(path), Comparator::Eq, Operand::Value(_)) = parsed else { panic!() };
        assert_eq!(path, vec![name("name"), name("nested"), PathElement::Index(2), name("key word")]);
    }

    #[test]
    fn every_condition_form_parses() {
        for text in [
            "a BETWEEN :v AND :w",
            "a IN (:v, :w)",
            "attribute_exists(a) AND attribute_not_exists(#n)",
            "attribute_type(a, :s)",
            "begins_with(a, :s) OR contains(a, :s)",
            "size(a) > :v",
            "(a < :v) and (b >= :w)",
            "a <> b",
        ] {
            let mut p = Placeholders::with(
                &[("#n", "n")],
                &[(":v", n("1")), (":w", n("5")), (":s", AttributeValue::S("S".into()))],
            );
            parse_condition(ExpressionKind::Condition, text, &mut p)
                .unwrap_or_else(|e| panic!("{text}: {}", e.message()));
        }
    }

    #[test]
    fn errors_use_dynamodb_wording() {
        let error = |text: &str| {
            let mut p = placeholders();
            parse_condition(ExpressionKind::Condition, text, &mut p).unwrap_err().message().to_owned()
        };
        assert_eq!(
            error("a = :missing"),
            "Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :missing"
        );
        assert_eq!(
            error("#missing = :v"),
            "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: #missing"
        );
        assert_eq!(error("a = "), "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"=\"");
        assert_eq!(error("nope(a)"), "Invalid ConditionExpression: Invalid function name; function: nope");
        assert_eq!(
            error("attribute_exists(:v)"),
            "Invalid ConditionExpression: Operator or function requires a document path; operator or function: attribute_exists"
        );
        assert_eq!(
            error("begins_with(a)"),
            "Invalid ConditionExpression: Incorrect number of operands for operator or function; operator or function: begins_with, number of operands: 1"
        );
        assert!(
            error("a BETWEEN :w AND :v").contains("requires upper bound to be greater than or equal to lower bound")
        );
        assert_eq!(
            error("size(a)"),
            "Invalid ConditionExpression: The function is not allowed to be used this way in an expression; function: size"
        );
        assert!(error("attribute_type(a, :v)").contains("Incorrect operand type"));
        assert_eq!(error(""), "Invalid ConditionExpression: The expression can not be empty;");
        assert!(error(&format!("{}a = :v{}", "(".repeat(500), ")".repeat(500))).contains("too many levels of nesting"));
        assert!(error(&"NOT ".repeat(1000)).contains("too many levels of nesting"));
        assert!(error(&format!("a = :v{}", " OR a = :v".repeat(500))).contains("Expression size has exceeded"));
        assert_eq!(
            error("status = :v"),
            "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: status"
        );
        assert_eq!(
            error("a.Total = :v"),
            "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: Total"
        );
    }

    #[test]
    fn only_redundant_parentheses_are_refused() {
        let parse = |text: &str| {
            let mut p = Placeholders::with(
                &[("#n0", "a"), ("#n1", "b"), ("#n2", "c")],
                &[(":v0", n("1")), (":v1", n("2")), (":v2", n("3"))],
            );
            parse_condition(ExpressionKind::Condition, text, &mut p).map(|_| ()).map_err(|e| e.message().to_owned())
        };
        let redundant = Err("Invalid ConditionExpression: The expression has redundant parentheses;".to_owned());
        assert_eq!(parse("((#n0 = :v0))"), redundant);
        assert_eq!(parse("#n1 = :v1 AND ((#n0 = :v0))"), redundant);
        assert_eq!(parse("(((#n0 = :v0) AND #n1 = :v1))"), redundant);
        // What boto3's ConditionExpressionBuilder and aws-lambda-powertools write.
        for text in [
            "(#n0 = :v0 AND #n1 < :v1)",
            "((#n0 = :v0 AND #n1 < :v1) OR #n2 = :v2)",
            "((#n0 = :v0) AND (#n1 = :v1))",
            "(NOT (#n0 = :v0 OR #n1 = :v1))",
            "(attribute_not_exists(#n0) OR #n1 < :v1)",
            "((attribute_exists(#n0) AND #n1 = :v1) AND #n2 <> :v2)",
            "(#n0 = :v0)",
            "(#n0 = :v0 AND (#n1 = :v1 AND #n2 <> :v2))",
            "(#n0 BETWEEN :v0 AND :v1 AND #n1 IN (:v1, :v2))",
            "(#n0 = :v0 AND begins_with(#n1, :v1))",
        ] {
            assert_eq!(parse(text), Ok(()), "{text}");
        }
    }

    #[test]
    fn updates_parse_by_clause() {
        let mut p = placeholders();
        let update = parse_update(
            "SET a = a + :v, b = if_not_exists(b, :w), c = list_append(c, :l) REMOVE d[1] ADD e :v DELETE f :s",
            &mut p,
        )
        .unwrap();
        assert_eq!(update.set.len(), 3);
        assert_eq!(update.remove, vec![vec![name("d"), PathElement::Index(1)]]);
        assert_eq!(update.add.len(), 1);
        assert_eq!(update.delete.len(), 1);
    }

    #[test]
    fn update_errors_use_dynamodb_wording() {
        let error = |text: &str| {
            let mut p = placeholders();
            parse_update(text, &mut p).unwrap_err().message().to_owned()
        };
        assert_eq!(
            error("SET a = :v SET b = :v"),
            "Invalid UpdateExpression: The \"SET\" section can only be used once in an update expression;"
        );
        assert_eq!(
            error("SET a = :v, a.b = :v"),
            "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a, b]"
        );
        assert_eq!(
            error("SET a = size(b)"),
            "Invalid UpdateExpression: The function is not allowed in a update expression; function: size"
        );
        assert_eq!(
            error("UPSERT a = :v"),
            "Invalid UpdateExpression: Syntax error; token: \"UPSERT\", near: \"UPSERT a\""
        );
    }

    #[test]
    fn unused_placeholders_are_reported() {
        let mut p = placeholders();
        parse_condition(ExpressionKind::Condition, "#n = :v", &mut p).unwrap();
        let error = p.check_all_used().unwrap_err();
        assert_eq!(error.message(), "Value provided in ExpressionAttributeNames unused in expressions: keys: {#k}");
    }
}
