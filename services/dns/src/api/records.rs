//! Record sets: ChangeResourceRecordSets and ListResourceRecordSets.

use actix_web::HttpResponse;

use super::{Call, errors::Result, input, invalid, max_items, ok, operation::trim_id, render, xml::Xml};
use crate::{model::RecordSet, names, rdata, store::Zones};

/// Route 53's page of record sets (and the most `maxitems` gets).
const RECORD_PAGE: u32 = 300;

pub async fn change(zones: &Zones, id: &str, call: &Call<'_>) -> Result<HttpResponse> {
    let batch = input::change_resource_record_sets(call.body)?;
    let change = zones.change_record_sets(trim_id(id, "hostedzone"), batch.changes, batch.comment).await?;
    let mut xml = Xml::document("ChangeResourceRecordSetsResponse");
    render::change_info(&mut xml, &change);
    ok(xml)
}

/// Where a listing starts: the first set at or after this name, type and
/// set identifier, in the zone's order.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Start {
    name: Vec<Vec<u8>>,
    kind: Option<String>,
    identifier: Option<String>,
}

impl Start {
    fn from(call: &Call<'_>) -> Result<Option<Self>> {
        let (name, kind, identifier) = (call.parameter("name"), call.parameter("type"), call.parameter("identifier"));
        let Some(name) = name else {
            if kind.is_some() {
                return Err(invalid("Invalid request: a type to start at needs a name (the name parameter)"));
            }
            if identifier.is_some() {
                return Err(invalid("Invalid request: an identifier to start at needs a name and a type"));
            }
            return Ok(None);
        };
        let canonical = names::canonical(name)
            .map_err(|error| invalid(format!("Invalid request: the name '{name}' is not valid ({error})")))?;
        if let Some(kind) = kind.filter(|kind| rdata::record_type(kind).is_none()) {
            return Err(invalid(format!("Invalid request: '{kind}' is not a supported record type")));
        }
        if identifier.is_some() && kind.is_none() {
            return Err(invalid("Invalid request: an identifier to start at needs a name and a type"));
        }
        Ok(Some(Start {
            name: names::order_key(&canonical),
            kind: kind.map(str::to_owned),
            identifier: identifier.map(str::to_owned),
        }))
    }

    /// Whether this start lies past `set` (which the page leaves out).
    fn is_past(&self, set: &RecordSet) -> bool {
        let name = names::order_key(&set.name);
        match (&self.kind, &self.identifier) {
            (None, _) => name < self.name,
            (Some(kind), None) => (&name, &set.kind) < (&self.name, kind),
            (Some(kind), Some(identifier)) => {
                (&name, &set.kind, &set.set_identifier) < (&self.name, kind, &Some(identifier.clone()))
            }
        }
    }
}

/// ListResourceRecordSets: a page of the zone's sets in Route 53's order
/// from `name`/`type`/`identifier`, and where the next page starts.
pub async fn list(zones: &Zones, id: &str, call: &Call<'_>) -> Result<HttpResponse> {
    let start = Start::from(call)?;
    let (max_text, max) = max_items(call, RECORD_PAGE)?;
    let zone = zones.zone(trim_id(id, "hostedzone")).await?;
    let sets = &zone.record_sets;
    let first = start.map_or(0, |start| sets.partition_point(|set| start.is_past(set)));
    let page = &sets[first..(first + max).min(sets.len())];
    let next = sets.get(first + max);
    let mut xml = Xml::document("ListResourceRecordSetsResponse");
    xml.open("ResourceRecordSets");
    for set in page {
        render::record_set(&mut xml, set);
    }
    xml.close().boolean("IsTruncated", next.is_some());
    if let Some(next) = next {
        xml.element("NextRecordName", &next.name)
            .element("NextRecordType", &next.kind)
            .optional("NextRecordIdentifier", next.set_identifier.as_deref());
    }
    xml.element("MaxItems", &max_text);
    ok(xml)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(name: &str, kind: &str, id: Option<&str>) -> RecordSet {
        RecordSet {
            name: name.into(),
            kind: kind.into(),
            ttl: Some(60),
            values: vec!["192.0.2.1".into()],
            alias: None,
            set_identifier: id.map(str::to_owned),
            weight: id.map(|_| 1),
            failover: None,
            multi_value_answer: None,
            health_check_id: None,
            region: None,
        }
    }

    fn start(name: &str, kind: Option<&str>, identifier: Option<&str>) -> Start {
        Start { name: names::order_key(name), kind: kind.map(str::to_owned), identifier: identifier.map(str::to_owned) }
    }

    #[test]
    fn a_listing_starts_at_the_first_set_at_or_after_its_start() {
        let sets = [
            set("example.com.", "NS", None),
            set("example.com.", "SOA", None),
            set("a.example.com.", "A", None),
            set("w.example.com.", "A", Some("one")),
            set("w.example.com.", "A", Some("two")),
            set("w.example.com.", "TXT", None),
        ];
        let first = |start: Start| sets.partition_point(|set| start.is_past(set));
        assert_eq!(first(start("example.com.", None, None)), 0);
        assert_eq!(first(start("example.com.", Some("SOA"), None)), 1);
        assert_eq!(first(start("b.example.com.", None, None)), 3);
        assert_eq!(first(start("w.example.com.", Some("A"), None)), 3);
        assert_eq!(first(start("w.example.com.", Some("A"), Some("two"))), 4);
        assert_eq!(first(start("w.example.com.", Some("MX"), None)), 5);
        assert_eq!(first(start("z.example.com.", None, None)), 6);
    }
}
