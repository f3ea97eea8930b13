//! The address lists of the configuration (`transfer_allow`,
//! `health_check_allow`): each entry an address or a network.

use std::net::IpAddr;

use ipnet::IpNet;

/// Reads `setting`'s entries (`127.0.0.1`, `10.0.0.0/8`, `::1`); the error
/// names the setting and the entry.
pub fn parse(setting: &str, entries: &[String]) -> Result<Vec<IpNet>, String> {
    entries
        .iter()
        .map(|entry| {
            entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{setting}: {entry} is not an address or a network"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn entries_are_addresses_or_networks() {
        let parsed = super::parse("x", &["127.0.0.1".into(), "10.0.0.0/8".into(), "::1".into()]).unwrap();
        assert_eq!(
            parsed.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]
        );
        assert_eq!(super::parse("x", &["nonsense".into()]).unwrap_err(), "x: nonsense is not an address or a network");
    }
}
