//! Record values: Route 53's text form (zone-file presentation, one value
//! per `ResourceRecord`) checked and turned into wire records.
//!
//! Parsing is hickory's zone-file parser, fed one line per value, so every
//! type it knows is read the way a zone file is; nubo adds the rules Route
//! 53 holds on top (one CNAME value, quoted TXT strings of at most 255
//! characters, names in values taken as fully qualified) and SPF, which
//! hickory does not know: it is TXT's format under type 99.

use std::str::FromStr;

use hickory_proto::{
    rr::{Name, RData, Record, RecordType, rdata::NULL},
    serialize::{
        binary::{BinEncodable, BinEncoder},
        txt::Parser,
    },
};

use crate::{model::RecordSet, names};

/// The record types Route 53 lets a record set have.
pub const SUPPORTED: &[&str] = &[
    "A", "AAAA", "CAA", "CNAME", "DS", "HTTPS", "MX", "NAPTR", "NS", "PTR", "SOA", "SPF", "SRV", "SSHFP", "SVCB",
    "TLSA", "TXT",
];

/// The SPF type code (RFC 4408; obsoleted but still served by Route 53).
const SPF: u16 = 99;

/// The wire type of a supported Route 53 type name.
pub fn record_type(kind: &str) -> Option<RecordType> {
    if !SUPPORTED.contains(&kind) {
        return None;
    }
    Some(if kind == "SPF" { RecordType::Unknown(SPF) } else { RecordType::from_str(kind).ok()? })
}

/// The wire records of a record set that has values (not an alias), or
/// the reason Route 53 would give for refusing one of its values.
pub fn records(set: &RecordSet) -> Result<Vec<Record>, String> {
    let owner = names::to_name(&set.name).map_err(|error| format!("Invalid name '{}': {error}", set.name))?;
    let ttl = set.ttl.unwrap_or(300);
    set.values.iter().map(|value| record(&owner, &set.kind, ttl, value)).collect()
}

/// One value of `kind` at `owner`.
pub fn record(owner: &Name, kind: &str, ttl: u32, value: &str) -> Result<Record, String> {
    let invalid = |why: &str| format!("Invalid Resource Record: 'FATAL problem: {why} encountered with '{value}''");
    if value.is_empty() {
        return Err(invalid("Empty value"));
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(invalid("Control characters in value"));
    }
    match kind {
        "A" => check_ip::<std::net::Ipv4Addr>(value)
            .map_err(|()| invalid("ARRDATAIllegalIPv4Address (Value is not a valid IPv4 address)"))?,
        "AAAA" => check_ip::<std::net::Ipv6Addr>(value)
            .map_err(|()| invalid("AAAARRDATAIllegalIPv6Address (Value is not a valid IPv6 address)"))?,
        "TXT" | "SPF" => check_strings(value).map_err(|why| invalid(&why))?,
        _ => {}
    }
    // hickory's parser knows TXT, not SPF: read SPF as TXT, keep its bytes.
    let parsed_kind = if kind == "SPF" { "TXT" } else { kind };
    // The origin is the root, so a name in a value without its trailing
    // dot is taken as fully qualified, as Route 53 takes it.
    let line = format!("{} {ttl} IN {parsed_kind} {value}\n", owner.to_ascii());
    let parser = Parser::new(line, None, Some(Name::root()));
    let (_, sets) = parser.parse().map_err(|error| invalid(&format!("{parsed_kind}RRDATA ({error})")))?;
    let mut parsed = sets.into_values().flat_map(|set| set.records_without_rrsigs().cloned().collect::<Vec<_>>());
    let (Some(mut record), None) = (parsed.next(), parsed.next()) else {
        return Err(invalid("Value is not one record"));
    };
    if kind == "SPF" {
        let mut bytes = Vec::new();
        let mut encoder = BinEncoder::new(&mut bytes);
        record.data.emit(&mut encoder).map_err(|error| invalid(&error.to_string()))?;
        if bytes.is_empty() {
            return Err(invalid("SPFRRDATATooShort (Value has no character string)"));
        }
        record.data = RData::Unknown { code: RecordType::Unknown(SPF), rdata: NULL::with(bytes) };
    }
    record.name = owner.clone();
    Ok(record)
}

fn check_ip<T: FromStr>(value: &str) -> Result<(), ()> {
    value.parse::<T>().map(drop).map_err(drop)
}

/// TXT and SPF values: at least one character string, each at most 255
/// octets once unescaped; a quoted string may hold spaces.
fn check_strings(value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err("TXTRDATATooShort (Value has no character string)".into());
    }
    let mut chars = value.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c == ' ' {
            chars.next();
            continue;
        }
        let quoted = c == '"';
        if quoted {
            chars.next();
        }
        let mut length = 0usize;
        let mut closed = !quoted;
        while let Some(c) = chars.next() {
            match c {
                '"' if quoted => {
                    closed = true;
                    break;
                }
                ' ' if !quoted => break,
                '\\' => {
                    let next = chars.next().ok_or("Escape at the end of the value")?;
                    if next.is_ascii_digit() {
                        chars.next();
                        chars.next();
                    }
                    length += 1;
                }
                _ => length += c.len_utf8(),
            }
        }
        if !closed {
            return Err("Unbalanced quotes".into());
        }
        if length > 255 {
            return Err("TXTRDATATooLong (Value is too long)".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(kind: &str, value: &str) -> Result<Record, String> {
        record(&names::to_name("www.example.com").unwrap(), kind, 60, value)
    }

    #[test]
    fn every_supported_type_parses_its_usual_value() {
        let cases = [
            ("A", "192.0.2.1"),
            ("AAAA", "2001:db8::1"),
            ("CAA", "0 issue \"letsencrypt.org\""),
            ("CNAME", "target.example.org"),
            ("DS", "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118"),
            ("HTTPS", "1 . alpn=h2"),
            ("MX", "10 mail.example.com"),
            ("NAPTR", "100 10 \"U\" \"E2U+sip\" \"!^.*$!sip:info@example.com!\" ."),
            ("NS", "ns1.example.com."),
            ("PTR", "host.example.com"),
            ("SOA", "ns1.example.com. hostmaster.example.com. 1 7200 900 1209600 86400"),
            ("SPF", "\"v=spf1 -all\""),
            ("SRV", "10 5 5060 sip.example.com"),
            ("SSHFP", "1 1 123456789abcdef67890123456789abcdef67890"),
            ("SVCB", "1 svc.example.com. port=8443"),
            ("TLSA", "3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
            ("TXT", "\"hello world\" \"second\""),
        ];
        for (kind, value) in cases {
            let record = one(kind, value).unwrap_or_else(|error| panic!("{kind} {value}: {error}"));
            assert_eq!(record.record_type(), record_type(kind).unwrap(), "{kind}");
            assert_eq!(record.ttl, 60);
        }
    }

    #[test]
    fn names_in_values_are_fully_qualified() {
        let record = one("CNAME", "target.example.org").unwrap();
        let RData::CNAME(target) = &record.data else { panic!("not a CNAME: {record:?}") };
        assert_eq!(target.0.to_ascii(), "target.example.org.");
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(one("A", "1.2.3").unwrap_err().contains("ARRDATAIllegalIPv4Address"));
        assert!(one("AAAA", "1.2.3.4").is_err());
        assert!(one("MX", "mail.example.com").is_err());
        assert!(one("TXT", "\"unclosed").is_err());
        assert!(one("TXT", &format!("\"{}\"", "a".repeat(256))).unwrap_err().contains("TooLong"));
        assert!(one("TXT", &format!("\"{}\" \"{}\"", "a".repeat(255), "b".repeat(255))).is_ok());
        assert!(one("A", "192.0.2.1\n$INCLUDE /etc/passwd").is_err());
        // Found by fuzzing: an SPF value with no string panicked in hickory.
        assert!(one("SPF", " ").is_err());
        assert!(one("TXT", "   ").is_err());
        assert!(record_type("ANY").is_none());
    }
}
