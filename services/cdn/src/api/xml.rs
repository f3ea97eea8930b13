//! CloudFront's XML: requests read into [`Node`] trees (strictly: one
//! root, no DOCTYPE, bounded depth), answers written element by element.

use nubo_host::front::AwsError;
use quick_xml::{Reader, escape::escape, events::Event};

use crate::model::Node;

pub const NAMESPACE: &str = "http://cloudfront.amazonaws.com/doc/2020-05-31/";

/// Deeper than any CloudFront document (a response headers policy is the
/// deepest, at about eight): a bound on what a hostile body can nest.
const MAX_DEPTH: usize = 32;

/// `MalformedInput`, CloudFront's answer for a body that is not the
/// document asked for.
pub fn malformed(detail: impl std::fmt::Display) -> AwsError {
    super::errors::malformed(format!(
        "The XML you provided was not well-formed or did not validate against our published schema: {detail}"
    ))
}

/// Reads `body` into a tree whose root must be `root`.
pub fn parse(body: &[u8], root: &str) -> Result<Node, AwsError> {
    let text = std::str::from_utf8(body).map_err(|_| malformed("the body is not UTF-8"))?;
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Node> = Vec::new();
    let mut done: Option<Node> = None;
    loop {
        let event = reader.read_event().map_err(malformed)?;
        match event {
            Event::Start(_) | Event::Empty(_) if done.is_some() => {
                return Err(malformed("content after the root element"));
            }
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(malformed("the document nests too deeply"));
                }
                stack.push(Node::new(String::from_utf8_lossy(start.local_name().as_ref()).into_owned()));
            }
            Event::Empty(start) => {
                let node = Node::new(String::from_utf8_lossy(start.local_name().as_ref()).into_owned());
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => done = Some(node),
                }
            }
            Event::End(_) => {
                let Some(node) = stack.pop() else { return Err(malformed("an unmatched end tag")) };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => done = Some(node),
                }
            }
            Event::Text(text) => {
                let text = text.decode().map_err(malformed)?;
                match stack.last_mut() {
                    Some(node) => node.text.push_str(&text),
                    None if text.trim().is_empty() => {}
                    None => return Err(malformed("text outside the root element")),
                }
            }
            Event::GeneralRef(reference) => {
                let Some(node) = stack.last_mut() else { return Err(malformed("text outside the root element")) };
                match reference.resolve_char_ref().map_err(malformed)? {
                    Some(character) => node.text.push(character),
                    None => {
                        let name = reference.decode().map_err(malformed)?;
                        let character = match name.as_ref() {
                            "amp" => '&',
                            "lt" => '<',
                            "gt" => '>',
                            "quot" => '"',
                            "apos" => '\'',
                            other => return Err(malformed(format!("the entity &{other}; is not defined"))),
                        };
                        node.text.push(character);
                    }
                }
            }
            Event::CData(data) => match stack.last_mut() {
                Some(node) => node.text.push_str(&String::from_utf8_lossy(&data)),
                None => return Err(malformed("text outside the root element")),
            },
            Event::DocType(_) => return Err(malformed("DOCTYPE is not allowed")),
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(malformed("premature end of the document"));
    }
    let mut node = done.ok_or_else(|| malformed("the body is empty"))?;
    if node.name != root {
        return Err(malformed(format!("expected {root}, found {}", node.name)));
    }
    tidy(&mut node);
    Ok(node)
}

/// Whitespace between child elements is layout, not text.
fn tidy(node: &mut Node) {
    if !node.children.is_empty() {
        node.text.clear();
        node.children.iter_mut().for_each(tidy);
    }
}

/// An XML document under construction.
#[derive(Debug)]
pub struct Xml {
    text: String,
    open: Vec<&'static str>,
}

impl Xml {
    /// A document whose root is `root` in CloudFront's namespace.
    pub fn document(root: &'static str) -> Self {
        let mut text = String::with_capacity(2048);
        text.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<");
        text.push_str(root);
        text.push_str(" xmlns=\"");
        text.push_str(NAMESPACE);
        text.push_str("\">");
        Self { text, open: vec![root] }
    }

    /// A document whose root is `node` itself.
    pub fn of(node: &Node) -> String {
        let mut xml = Self { text: String::with_capacity(2048), open: Vec::new() };
        xml.text.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<");
        xml.text.push_str(&node.name);
        xml.text.push_str(" xmlns=\"");
        xml.text.push_str(NAMESPACE);
        xml.text.push_str("\">");
        for child in &node.children {
            xml.node(child);
        }
        if node.children.is_empty() {
            xml.text.push_str(&escape(node.text.as_str()));
        }
        xml.text.push_str("</");
        xml.text.push_str(&node.name);
        xml.text.push('>');
        xml.text
    }

    pub fn open(&mut self, name: &'static str) -> &mut Self {
        self.text.push('<');
        self.text.push_str(name);
        self.text.push('>');
        self.open.push(name);
        self
    }

    pub fn close(&mut self) -> &mut Self {
        if let Some(name) = self.open.pop() {
            self.text.push_str("</");
            self.text.push_str(name);
            self.text.push('>');
        }
        self
    }

    pub fn element(&mut self, name: &str, text: &str) -> &mut Self {
        self.text.push('<');
        self.text.push_str(name);
        self.text.push('>');
        self.text.push_str(&escape(text));
        self.text.push_str("</");
        self.text.push_str(name);
        self.text.push('>');
        self
    }

    pub fn boolean(&mut self, name: &str, value: bool) -> &mut Self {
        self.element(name, if value { "true" } else { "false" })
    }

    /// Writes `node` and everything under it.
    pub fn node(&mut self, node: &Node) -> &mut Self {
        self.text.push('<');
        self.text.push_str(&node.name);
        self.text.push('>');
        if node.children.is_empty() {
            self.text.push_str(&escape(node.text.as_str()));
        } else {
            for child in &node.children {
                self.node(child);
            }
        }
        self.text.push_str("</");
        self.text.push_str(&node.name);
        self.text.push('>');
        self
    }

    /// Writes `node` under the name `name`.
    pub fn node_as(&mut self, name: &str, node: &Node) -> &mut Self {
        let mut renamed = node.clone();
        renamed.name = name.to_owned();
        self.node(&renamed)
    }

    pub fn finish(mut self) -> String {
        while !self.open.is_empty() {
            self.close();
        }
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_become_trees() {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DistributionConfig xmlns=\"{NAMESPACE}\">\n  \
             <CallerReference>a &amp; b</CallerReference>\n  <Aliases><Quantity>0</Quantity></Aliases><Comment/></DistributionConfig>"
        );
        let node = parse(body.as_bytes(), "DistributionConfig").unwrap();
        assert_eq!(node.text_of("CallerReference"), Some("a & b"));
        assert_eq!(node.child("Aliases").and_then(|a| a.number("Quantity")), Some(0));
        assert_eq!(node.text_of("Comment"), Some(""));
        assert!(node.text.is_empty());
        let again = Xml::of(&node);
        assert_eq!(parse(again.as_bytes(), "DistributionConfig").unwrap(), node);
    }

    #[test]
    fn bad_bodies_are_malformed_xml() {
        let deep = "<A>".repeat(40) + &"</A>".repeat(40);
        for bad in [
            &b""[..],
            b"not xml",
            b"<A><B>x</A>",
            b"<Other/>",
            b"<A/><A/>",
            b"<A>",
            b"\xff\xfe",
            b"<!DOCTYPE A [<!ENTITY x \"y\">]><A>&x;</A>",
            deep.as_bytes(),
        ] {
            let error = parse(bad, "A").unwrap_err();
            assert_eq!((error.status, error.short_code()), (400, "MalformedInput"), "{bad:?}");
        }
    }
}
