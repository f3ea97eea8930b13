//! Route 53's XML: answers written element by element (the SDKs read
//! members in the order the API reference gives them), requests read
//! strictly with `quick-xml`'s serde support.

use nubo_host::front::AwsError;
use quick_xml::{Reader, escape::escape, events::Event};
use serde::de::DeserializeOwned;

pub const NAMESPACE: &str = "https://route53.amazonaws.com/doc/2013-04-01/";

/// An XML document under construction.
#[derive(Debug)]
pub struct Xml {
    text: String,
    open: Vec<&'static str>,
}

impl Xml {
    /// A document whose root is `root` in Route 53's namespace.
    pub fn document(root: &'static str) -> Self {
        let mut text = String::with_capacity(1024);
        text.push_str("<?xml version=\"1.0\"?>\n<");
        text.push_str(root);
        text.push_str(" xmlns=\"");
        text.push_str(NAMESPACE);
        text.push_str("\">");
        Self { text, open: vec![root] }
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

    pub fn optional(&mut self, name: &str, text: Option<&str>) -> &mut Self {
        if let Some(text) = text {
            self.element(name, text);
        }
        self
    }

    pub fn boolean(&mut self, name: &str, value: bool) -> &mut Self {
        self.element(name, if value { "true" } else { "false" })
    }

    pub fn finish(mut self) -> String {
        while !self.open.is_empty() {
            self.close();
        }
        self.text
    }
}

/// `InvalidInput` for a body that is not the document Route 53 expects.
pub fn invalid_xml(detail: impl std::fmt::Display) -> AwsError {
    AwsError::new(400, "InvalidInput", format!("Invalid XML ; {detail}"))
}

/// `InvalidInput` naming a required element the document lacks, in the
/// words of Route 53's schema validation.
pub fn missing(parent: &str, child: &str) -> AwsError {
    invalid_xml(format!(
        "cvc-complex-type.2.4.b: The content of element '{parent}' is not complete. One of \
         '{{\"{NAMESPACE}\":{child}}}' is expected."
    ))
}

/// Reads a request body whose root element must be `root`. Anything else
/// (not UTF-8, not well-formed, another root, unknown or misplaced
/// elements) is `InvalidInput`, never a panic.
pub fn parse<T: DeserializeOwned>(body: &[u8], root: &str) -> Result<T, AwsError> {
    let text = std::str::from_utf8(body).map_err(|_| invalid_xml("the request body is not UTF-8"))?;
    let found = root_name(text)?;
    if found != root {
        return Err(invalid_xml(format!(
            "cvc-elt.1.a: Cannot find the declaration of element '{found}'; expected '{root}'"
        )));
    }
    quick_xml::de::from_str(text).map_err(invalid_xml)
}

/// The local name of the document's root element.
fn root_name(text: &str) -> Result<String, AwsError> {
    let mut reader = Reader::from_str(text);
    loop {
        match reader.read_event() {
            Ok(Event::Start(start) | Event::Empty(start)) => {
                return Ok(String::from_utf8_lossy(start.local_name().as_ref()).into_owned());
            }
            Ok(Event::Eof) => return Err(invalid_xml("Premature end of file.")),
            Ok(Event::Text(text)) if text.iter().all(u8::is_ascii_whitespace) => {}
            Ok(Event::Decl(_) | Event::Comment(_) | Event::PI(_)) => {}
            Ok(Event::DocType(_)) => return Err(invalid_xml("DOCTYPE is disallowed")),
            Ok(_) => return Err(invalid_xml("Content is not allowed in prolog.")),
            Err(error) => return Err(invalid_xml(error)),
        }
    }
}

/// A time as Route 53 writes it: ISO 8601 in UTC with milliseconds and Z
/// (`2017-03-10T01:36:41.958Z`), whatever RFC 3339 form it was kept in.
pub fn timestamp(stored: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(stored)
        .map(|at| at.with_timezone(&chrono::Utc).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|_| stored.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Probe {
        #[serde(rename = "@xmlns", default)]
        _xmlns: Option<String>,
        #[serde(rename = "Comment")]
        comment: Option<String>,
    }

    #[test]
    fn documents_escape_and_close() {
        let mut xml = Xml::document("GetChangeResponse");
        xml.open("ChangeInfo").element("Id", "/change/C1").optional("Comment", Some("a<b&c"));
        assert_eq!(
            xml.finish(),
            "<?xml version=\"1.0\"?>\n<GetChangeResponse xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\">\
             <ChangeInfo><Id>/change/C1</Id><Comment>a&lt;b&amp;c</Comment></ChangeInfo></GetChangeResponse>"
        );
    }

    #[test]
    fn requests_are_read_strictly() {
        let ok: Probe = parse(
            format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Probe xmlns=\"{NAMESPACE}\"><Comment>hi &amp; bye</Comment></Probe>")
                .as_bytes(),
            "Probe",
        )
        .unwrap();
        assert_eq!(ok.comment.as_deref(), Some("hi & bye"));
        let empty: Probe = parse(b"<Probe/>", "Probe").unwrap();
        assert_eq!(empty.comment, None);
        for bad in [
            &b""[..],
            b"not xml",
            b"<Probe><Comment>unclosed</Probe>",
            b"<Other><Comment>x</Comment></Other>",
            b"<Probe><Unknown>x</Unknown></Probe>",
            b"<Probe><Comment>x</Comment>",
            b"\xff\xfe",
            b"<!DOCTYPE Probe [<!ENTITY x \"y\">]><Probe><Comment>&x;</Comment></Probe>",
        ] {
            let error = parse::<Probe>(bad, "Probe").unwrap_err();
            assert_eq!((error.status, error.short_code()), (400, "InvalidInput"), "{bad:?}");
            assert!(error.message.starts_with("Invalid XML ; "), "{}", error.message);
        }
    }

    #[test]
    fn times_are_iso8601_with_z() {
        assert_eq!(timestamp("2017-03-10T01:36:41.958Z"), "2017-03-10T01:36:41.958Z");
        assert_eq!(timestamp("2017-03-10T02:36:41+01:00"), "2017-03-10T01:36:41.000Z");
    }
}
