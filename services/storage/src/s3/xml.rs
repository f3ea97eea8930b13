//! S3's XML: documents written element by element (S3's shapes are flat
//! and their element order is part of the contract), and request bodies
//! read with `quick-xml`'s serde support.

use quick_xml::escape::escape;
use serde::de::DeserializeOwned;

use nubo_host::front::AwsError;

pub const NAMESPACE: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// An XML document under construction.
#[derive(Debug)]
pub struct Xml {
    text: String,
    open: Vec<&'static str>,
}

impl Xml {
    /// A document whose root is `root` in S3's namespace.
    pub fn document(root: &'static str) -> Self {
        let mut text = String::with_capacity(512);
        text.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<");
        text.push_str(root);
        text.push_str(" xmlns=\"");
        text.push_str(NAMESPACE);
        text.push_str("\">");
        Self { text, open: vec![root] }
    }

    /// A document whose root carries no namespace (S3's `PostResponse`).
    pub fn bare(root: &'static str) -> Self {
        let mut text = String::with_capacity(256);
        text.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<");
        text.push_str(root);
        text.push('>');
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

    /// Markup written as is (an element with attributes S3 sends).
    pub fn raw(&mut self, markup: &str) -> &mut Self {
        self.text.push_str(markup);
        self
    }

    pub fn optional(&mut self, name: &str, text: Option<&str>) -> &mut Self {
        if let Some(text) = text {
            self.element(name, text);
        }
        self
    }

    pub fn finish(mut self) -> String {
        while !self.open.is_empty() {
            self.close();
        }
        self.text
    }
}

/// S3's `MalformedXML`, for a body that is not the document asked for.
pub fn malformed() -> AwsError {
    AwsError::new(
        400,
        "MalformedXML",
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
}

/// Reads a request body as `T`; anything that does not parse is `MalformedXML`.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, AwsError> {
    let text = std::str::from_utf8(body).map_err(|_| malformed())?;
    quick_xml::de::from_str(text).map_err(|error| {
        tracing::debug!(%error, "malformed XML body");
        malformed()
    })
}

/// An S3 timestamp: `2009-10-12T17:50:30.000Z`.
pub fn timestamp(unix_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(unix_ms).unwrap_or_default().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// An HTTP date: `Wed, 21 Oct 2015 07:28:00 GMT`.
pub fn http_date(unix_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(unix_ms).unwrap_or_default().format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_escape_and_close() {
        let mut xml = Xml::document("ListBucketResult");
        xml.element("Name", "a<b").open("Contents").element("Key", "k&");
        assert_eq!(
            xml.finish(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>a&lt;b</Name><Contents><Key>k&amp;</Key></Contents></ListBucketResult>"
        );
        assert_eq!(timestamp(1_255_369_830_000), "2009-10-12T17:50:30.000Z");
        assert_eq!(http_date(1_445_412_480_000), "Wed, 21 Oct 2015 07:28:00 GMT");
    }
}
