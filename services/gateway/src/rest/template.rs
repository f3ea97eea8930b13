//! Mapping templates, the subset of Velocity (VTL) that MOCK integrations
//! and their responses are written in: references (`$context.requestId`,
//! `$stageVariables.name`, `$input.params('name')`, `$input.body`,
//! `$input.json('$')`, quiet `$!ref` and braced `${ref}`), and
//! `#if(...)`/`#elseif(...)`/`#else`/`#end` over `==`, `!=` and a bare
//! reference's truth. A reference to nothing renders as empty; `#set`,
//! loops and `$util` are not evaluated (they render as written), which is
//! enough for the status-selecting request templates API Gateway's own
//! examples use.

use std::collections::BTreeMap;

/// What a template can refer to.
#[derive(Debug)]
pub struct Scope<'a> {
    /// `$context` variables by their dotted name (`requestId`,
    /// `authorizer.principalId`, `authorizer.claims.sub`).
    pub context: BTreeMap<String, String>,
    pub stage_variables: &'a BTreeMap<String, String>,
    pub path_parameters: &'a BTreeMap<String, String>,
    pub query: Vec<(String, String)>,
    pub headers: &'a [(String, String)],
    pub body: &'a str,
}

impl Scope<'_> {
    /// `$input.params('x')`: path, then query string, then header.
    fn param(&self, name: &str) -> String {
        if let Some(value) = self.path_parameters.get(name) {
            return value.clone();
        }
        if let Some((_, value)) = self.query.iter().find(|(key, _)| key == name) {
            return value.clone();
        }
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone()).unwrap_or_default()
    }

    fn resolve(&self, reference: &str) -> Option<String> {
        let (head, rest) = reference.split_once('.').unwrap_or((reference, ""));
        match head {
            "context" => self.context.get(rest).cloned(),
            "stageVariables" => self.stage_variables.get(rest).cloned(),
            "input" => {
                if rest == "body" {
                    return Some(self.body.to_owned());
                }
                let argument = |call: &str| {
                    rest.strip_prefix(call)
                        .and_then(|args| args.strip_prefix('('))
                        .and_then(|args| args.strip_suffix(')'))
                        .map(|args| args.trim().trim_matches(|c| c == '\'' || c == '"').to_owned())
                };
                if let Some(name) = argument("params") {
                    return Some(self.param(&name));
                }
                if argument("json").as_deref() == Some("$") {
                    return Some(if self.body.trim().is_empty() { "{}".to_owned() } else { self.body.to_owned() });
                }
                None
            }
            _ => None,
        }
    }
}

#[derive(Debug, PartialEq)]
enum Node {
    Text(String),
    Reference(String),
    If { branches: Vec<(String, Vec<Node>)>, otherwise: Vec<Node> },
}

/// Reads a reference after `$`: `name(.name | (args))*`, or `{...}`.
/// Returns the reference and the bytes consumed, or `None` when `$` is
/// not followed by one (it is then text).
fn read_reference(text: &str) -> Option<(String, usize)> {
    let quiet = usize::from(text.starts_with('!'));
    let rest = &text[quiet..];
    if let Some(inner) = rest.strip_prefix('{') {
        let end = inner.find('}')?;
        return Some((inner[..end].trim().to_owned(), quiet + end + 2));
    }
    let bytes = rest.as_bytes();
    let mut index = 0;
    let ident = |from: usize| {
        let mut end = from;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_' || bytes[end] == b'-') {
            end += 1;
        }
        end
    };
    if bytes.first().is_none_or(|b| !b.is_ascii_alphabetic()) {
        return None;
    }
    index = ident(index);
    loop {
        if index + 1 < bytes.len() && bytes[index] == b'.' && bytes[index + 1].is_ascii_alphabetic() {
            index = ident(index + 1);
        } else if index < bytes.len() && bytes[index] == b'(' {
            let close = rest[index..].find(')')?;
            index += close + 1;
        } else {
            break;
        }
    }
    Some((rest[..index].to_owned(), quiet + index))
}

/// The text inside `(...)` at the start of `text`, balanced, and the
/// bytes consumed.
fn read_parenthesised(text: &str) -> Option<(String, usize)> {
    let mut depth = 0;
    for (index, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some((text[1..index].to_owned(), index + 1));
                }
            }
            _ => {}
        }
    }
    None
}

/// Where a block of nodes stopped.
enum Stop {
    End,
    Else,
    ElseIf(String),
    Eof,
}

fn parse_block(text: &str, at: &mut usize) -> (Vec<Node>, Stop) {
    let mut nodes = Vec::new();
    let mut literal = String::new();
    while *at < text.len() {
        let rest = &text[*at..];
        if rest.starts_with("#if(") || rest.starts_with("#if (") {
            let open = rest.find('(').unwrap_or(3);
            if let Some((condition, used)) = read_parenthesised(&rest[open..]) {
                if !literal.is_empty() {
                    nodes.push(Node::Text(std::mem::take(&mut literal)));
                }
                *at += open + used;
                let mut branches = Vec::new();
                let mut otherwise = Vec::new();
                let mut current = condition;
                loop {
                    let (body, stop) = parse_block(text, at);
                    match stop {
                        Stop::ElseIf(next) => {
                            branches.push((current, body));
                            current = next;
                        }
                        Stop::Else => {
                            branches.push((current.clone(), body));
                            let (rest_body, _) = parse_block(text, at);
                            otherwise = rest_body;
                            break;
                        }
                        Stop::End | Stop::Eof => {
                            branches.push((current, body));
                            break;
                        }
                    }
                }
                nodes.push(Node::If { branches, otherwise });
                continue;
            }
        }
        if rest.starts_with("#elseif(") || rest.starts_with("#elseif (") {
            let open = rest.find('(').unwrap_or(7);
            if let Some((condition, used)) = read_parenthesised(&rest[open..]) {
                *at += open + used;
                push_text(&mut nodes, literal);
                return (nodes, Stop::ElseIf(condition));
            }
        }
        for (keyword, stop) in [("#{else}", 0), ("#else", 0), ("#{end}", 1), ("#end", 1)] {
            if rest.starts_with(keyword) && !rest.starts_with("#elseif") {
                *at += keyword.len();
                push_text(&mut nodes, literal);
                return (nodes, if stop == 0 { Stop::Else } else { Stop::End });
            }
        }
        if let Some(after) = rest.strip_prefix('$')
            && let Some((reference, used)) = read_reference(after)
        {
            push_text(&mut nodes, std::mem::take(&mut literal));
            nodes.push(Node::Reference(reference));
            *at += 1 + used;
            continue;
        }
        let c = rest.chars().next().unwrap_or_default();
        literal.push(c);
        *at += c.len_utf8();
    }
    push_text(&mut nodes, literal);
    (nodes, Stop::Eof)
}

fn push_text(nodes: &mut Vec<Node>, text: String) {
    if !text.is_empty() {
        nodes.push(Node::Text(text));
    }
}

/// An operand's value: a quoted string, a number or boolean literal, or a
/// reference.
fn operand(text: &str, scope: &Scope<'_>) -> Option<String> {
    let text = text.trim();
    if let Some(quoted) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        return Some(quoted.to_owned());
    }
    if let Some(quoted) = text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')) {
        return Some(quoted.to_owned());
    }
    if let Some(reference) = text.strip_prefix('$') {
        let (reference, _) = read_reference(reference)?;
        return scope.resolve(&reference);
    }
    Some(text.to_owned())
}

fn truth(condition: &str, scope: &Scope<'_>) -> bool {
    for (operator, equal) in [("==", true), ("!=", false)] {
        if let Some((left, right)) = condition.split_once(operator) {
            return (operand(left, scope) == operand(right, scope)) == equal;
        }
    }
    let value = operand(condition, scope);
    value.is_some_and(|value| !value.is_empty() && value != "false")
}

fn render_nodes(nodes: &[Node], scope: &Scope<'_>, out: &mut String) {
    for node in nodes {
        match node {
            Node::Text(text) => out.push_str(text),
            Node::Reference(reference) => out.push_str(&scope.resolve(reference).unwrap_or_default()),
            Node::If { branches, otherwise } => match branches.iter().find(|(condition, _)| truth(condition, scope)) {
                Some((_, body)) => render_nodes(body, scope, out),
                None => render_nodes(otherwise, scope, out),
            },
        }
    }
}

/// Renders a mapping template.
pub fn render(template: &str, scope: &Scope<'_>) -> String {
    let mut at = 0;
    let (nodes, _) = parse_block(template, &mut at);
    let mut out = String::new();
    render_nodes(&nodes, scope, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope<'a>(variables: &'a BTreeMap<String, String>, headers: &'a [(String, String)]) -> Scope<'a> {
        Scope {
            context: [("requestId".to_owned(), "rid".to_owned()), ("stage".to_owned(), "prod".to_owned())].into(),
            stage_variables: variables,
            path_parameters: variables,
            query: vec![("scope".into(), "internal".into())],
            headers,
            body: r#"{"a":1}"#,
        }
    }

    #[test]
    fn references_render_and_missing_ones_are_empty() {
        let variables: BTreeMap<String, String> = [("color".to_string(), "blue".to_string())].into();
        let scope = scope(&variables, &[]);
        assert_eq!(
            render(r#"{"id": "$context.requestId", "c": "${stageVariables.color}"}"#, &scope),
            r#"{"id": "rid", "c": "blue"}"#
        );
        assert_eq!(render("[$!context.nothing]", &scope), "[]");
        assert_eq!(render("$input.json('$')", &scope), r#"{"a":1}"#);
        assert_eq!(render("cost: $5", &scope), "cost: $5");
    }

    #[test]
    fn conditions_select_the_status() {
        let empty = BTreeMap::new();
        let headers = [("X-Mode".to_string(), "fail".to_string())];
        let scope = scope(&empty, &headers);
        let template =
            r#"#if( $input.params('scope') == "internal" ) {"statusCode": 200} #else {"statusCode": 500} #end"#;
        assert_eq!(render(template, &scope).trim(), r#"{"statusCode": 200}"#);
        let chain = "#if($input.params('x-mode') == 'ok')A#elseif($input.params('x-mode') != 'fail')B#{else}C#end";
        assert_eq!(render(chain, &scope), "C");
        assert_eq!(render("#if($context.stage)yes#end", &scope), "yes");
        assert_eq!(render("#if($context.none)yes#end", &scope), "");
    }

    #[test]
    fn unbalanced_templates_do_not_panic() {
        let empty = BTreeMap::new();
        let scope = scope(&empty, &[]);
        for template in ["#if(", "#if($a", "${unclosed", "#end#else", "$input.params('x'", "é$"] {
            let _ = render(template, &scope);
        }
    }
}
