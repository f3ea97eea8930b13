//! Hosted zones: CreateHostedZone, GetHostedZone, ListHostedZones,
//! ListHostedZonesByName, GetHostedZoneCount, UpdateHostedZoneComment,
//! DeleteHostedZone, and GetChange for the changes they and change batches
//! make.

use actix_web::{HttpResponse, http::StatusCode};
use nubo_host::front::AwsError;

use super::{Call, errors::Result, input, invalid, max_items, ok, operation::trim_id, render, reply, xml::Xml};
use crate::{model::Zone, store::Zones};

/// Route 53's page of hosted zones.
const ZONE_PAGE: u32 = 100;

pub async fn create(zones: &Zones, call: &Call<'_>) -> Result<HttpResponse> {
    let new = input::create_hosted_zone(call.body)?;
    let (zone, change) = zones.create_zone(new).await?;
    let mut xml = Xml::document("CreateHostedZoneResponse");
    render::hosted_zone(&mut xml, &zone);
    render::change_info(&mut xml, &change);
    render::delegation_set(&mut xml, &zone);
    render::vpcs(&mut xml, &zone);
    let info = call.request.connection_info();
    let location = format!("{}://{}/2013-04-01/hostedzone/{}", info.scheme(), info.host(), zone.id);
    let mut response = reply(StatusCode::CREATED, xml);
    if let Ok(location) = actix_web::http::header::HeaderValue::from_str(&location) {
        response.headers_mut().insert(actix_web::http::header::LOCATION, location);
    }
    Ok(response)
}

pub async fn get(zones: &Zones, id: &str) -> Result<HttpResponse> {
    let zone = zones.zone(trim_id(id, "hostedzone")).await?;
    let mut xml = Xml::document("GetHostedZoneResponse");
    render::hosted_zone(&mut xml, &zone);
    // A private zone answers only inside its VPCs: it lists those, and no
    // name servers.
    if zone.private {
        xml.open("VPCs");
        render::vpcs(&mut xml, &zone);
        xml.close();
    } else {
        render::delegation_set(&mut xml, &zone);
    }
    ok(xml)
}

/// ListHostedZones: the zones in the order of their ids, `marker` being
/// the id to start at (the `NextMarker` of the page before).
pub async fn list(zones: &Zones, call: &Call<'_>) -> Result<HttpResponse> {
    let (max_text, max) = max_items(call, ZONE_PAGE)?;
    if call.parameter("delegationsetid").is_some() {
        return Err(no_such_delegation_set());
    }
    let private_only = match call.parameter("hostedzonetype") {
        None => false,
        Some("PrivateHostedZone") => true,
        Some(other) => return Err(invalid(format!("Invalid value for hostedzonetype: '{other}'"))),
    };
    let marker = call.parameter("marker");
    let mut all = zones.zones().await?;
    all.retain(|zone| zone.private || !private_only);
    all.sort_by(|one, other| one.id.cmp(&other.id));
    let start = marker.map_or(0, |marker| {
        let marker = trim_id(marker, "hostedzone");
        all.partition_point(|zone| zone.id.as_str() < marker)
    });
    let page = &all[start..(start + max).min(all.len())];
    let next = all.get(start + max);
    let mut xml = Xml::document("ListHostedZonesResponse");
    hosted_zones(&mut xml, page);
    xml.optional("Marker", marker).boolean("IsTruncated", next.is_some());
    xml.optional("NextMarker", next.map(|zone| zone.id.as_str())).element("MaxItems", &max_text);
    ok(xml)
}

/// ListHostedZonesByName: the zones by name with its labels reversed
/// (`com.example.www.`), then by id, from `dnsname` (and `hostedzoneid`).
pub async fn list_by_name(zones: &Zones, call: &Call<'_>) -> Result<HttpResponse> {
    let (max_text, max) = max_items(call, ZONE_PAGE)?;
    let dns_name = call.parameter("dnsname");
    let zone_id = call.parameter("hostedzoneid").map(|id| trim_id(id, "hostedzone"));
    if zone_id.is_some() && dns_name.is_none() {
        return Err(invalid("Invalid request: hostedzoneid is given only with dnsname"));
    }
    let start_name = dns_name.map(|name| input::zone_name(name, false)).transpose()?;
    let mut all = zones.zones().await?;
    all.sort_by_cached_key(|zone| (reversed(&zone.name), zone.id.clone()));
    let start = start_name.map_or(0, |name| {
        let from = (reversed(&name), zone_id.unwrap_or_default().to_owned());
        all.partition_point(|zone| (reversed(&zone.name), zone.id.clone()) < from)
    });
    let page = &all[start..(start + max).min(all.len())];
    let next = all.get(start + max);
    let mut xml = Xml::document("ListHostedZonesByNameResponse");
    hosted_zones(&mut xml, page);
    xml.optional("DNSName", dns_name).optional("HostedZoneId", zone_id).boolean("IsTruncated", next.is_some());
    xml.optional("NextDNSName", next.map(|zone| zone.name.as_str()))
        .optional("NextHostedZoneId", next.map(|zone| zone.id.as_str()))
        .element("MaxItems", &max_text);
    ok(xml)
}

/// A canonical name as ListHostedZonesByName sorts it: labels reversed,
/// still escaped (`\052` and `\056` keep every dot a label separator).
fn reversed(name: &str) -> String {
    let labels: Vec<&str> = name.trim_end_matches('.').split('.').rev().collect();
    format!("{}.", labels.join("."))
}

fn hosted_zones(xml: &mut Xml, zones: &[Zone]) {
    xml.open("HostedZones");
    for zone in zones {
        render::hosted_zone(xml, zone);
    }
    xml.close();
}

pub async fn count(zones: &Zones) -> Result<HttpResponse> {
    let count = zones.zones().await?.len();
    let mut xml = Xml::document("GetHostedZoneCountResponse");
    xml.element("HostedZoneCount", &count.to_string());
    ok(xml)
}

pub async fn update_comment(zones: &Zones, id: &str, call: &Call<'_>) -> Result<HttpResponse> {
    let comment = input::update_comment(call.body)?;
    let zone = zones.update_comment(trim_id(id, "hostedzone"), comment).await?;
    let mut xml = Xml::document("UpdateHostedZoneCommentResponse");
    render::hosted_zone(&mut xml, &zone);
    ok(xml)
}

pub async fn delete(zones: &Zones, id: &str) -> Result<HttpResponse> {
    let change = zones.delete_zone(trim_id(id, "hostedzone")).await?;
    let mut xml = Xml::document("DeleteHostedZoneResponse");
    render::change_info(&mut xml, &change);
    ok(xml)
}

pub async fn get_change(zones: &Zones, id: &str) -> Result<HttpResponse> {
    let change = zones.change(trim_id(id, "change")).await?;
    let mut xml = Xml::document("GetChangeResponse");
    render::change_info(&mut xml, &change);
    ok(xml)
}

fn no_such_delegation_set() -> super::errors::Failure {
    AwsError::new(400, "NoSuchDelegationSet", "A reusable delegation set with the specified ID does not exist.").into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_sort_by_their_reversed_escaped_names() {
        let mut names =
            vec!["www.example.com.", "example.com.", "example-a.com.", "a.example.org.", "\\052.example.com."];
        names.sort_by_key(|name| reversed(name));
        assert_eq!(
            names,
            ["example-a.com.", "example.com.", "\\052.example.com.", "www.example.com.", "a.example.org."]
        );
    }
}
