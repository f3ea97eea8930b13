//! Public keys, key groups and origin access controls, checked as
//! CloudFront checks them. A public key must be an RSA key of at least
//! 2048 bits in PEM (`-----BEGIN PUBLIC KEY-----`, SubjectPublicKeyInfo),
//! as CloudFront's signed URLs and cookies verify with it.

use super::{
    check::{self, missing},
    errors::{Result, invalid_argument},
    policies::check_name_and_comment,
};
use crate::model::Node;

/// The most public keys a key group holds.
const MAX_KEYS_IN_GROUP: usize = 5;

/// The DER SubjectPublicKeyInfo of a PEM RSA public key, or why not.
pub fn public_key_der(encoded: &str) -> std::result::Result<Vec<u8>, String> {
    let pem = pem::parse(encoded.trim()).map_err(|error| format!("the key is not PEM: {error}"))?;
    if pem.tag() != "PUBLIC KEY" {
        return Err(format!("the PEM block is {}, not PUBLIC KEY", pem.tag()));
    }
    let key = aws_lc_rs::rsa::PublicEncryptingKey::from_der(pem.contents())
        .map_err(|_| "the PEM block is not an RSA public key".to_owned())?;
    if key.key_size_bits() < 2048 {
        return Err(format!("the key has {} bits; CloudFront takes 2048 or more", key.key_size_bits()));
    }
    Ok(pem.into_contents())
}

/// Checks a `PublicKeyConfig`.
pub fn check_public_key(config: Node) -> Result<Node> {
    if check::required_text(&config, "CallerReference")?.trim().is_empty() {
        return Err(missing("CallerReference"));
    }
    check_name_and_comment(&config, 128)?;
    let encoded = check::required_text(&config, "EncodedKey")?;
    public_key_der(encoded)
        .map_err(|why| invalid_argument(format!("The parameter EncodedKey is not valid: {why}.")))?;
    Ok(config)
}

/// The public key ids of a `KeyGroupConfig` (its `Items`, which have no
/// `Quantity`).
pub fn key_ids(config: &Node) -> Vec<String> {
    config
        .child("Items")
        .map_or_else(Vec::new, |items| items.children.iter().map(|key| key.text.trim().to_owned()).collect())
}

/// Checks a `KeyGroupConfig`.
pub fn check_key_group(config: Node) -> Result<Node> {
    check_name_and_comment(&config, 128)?;
    check::required(&config, "Items")?;
    let keys = key_ids(&config);
    if keys.is_empty() || keys.iter().any(String::is_empty) {
        return Err(invalid_argument("A key group must name at least one public key."));
    }
    if keys.len() > MAX_KEYS_IN_GROUP {
        return Err(super::errors::bad(
            "TooManyPublicKeysInKeyGroup",
            "The number of public keys in this key group is more than the maximum allowed.",
        ));
    }
    Ok(config)
}

/// Checks an `OriginAccessControlConfig` and fills in its defaults.
pub fn check_origin_access_control(mut config: Node) -> Result<Node> {
    let name = check::required_text(&config, "Name")?.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(invalid_argument("The parameter Name must be 1 to 64 characters long."));
    }
    if config.text_of("Description").is_some_and(|description| description.chars().count() > 256) {
        return Err(invalid_argument("The parameter Description is too long: it must be at most 256 characters."));
    }
    check::one_of("SigningProtocol", check::required_text(&config, "SigningProtocol")?.trim(), &["sigv4"])?;
    check::one_of(
        "SigningBehavior",
        check::required_text(&config, "SigningBehavior")?.trim(),
        &["never", "always", "no-override"],
    )?;
    check::one_of(
        "OriginAccessControlOriginType",
        check::required_text(&config, "OriginAccessControlOriginType")?.trim(),
        &["s3", "mediastore", "mediapackagev2", "lambda"],
    )?;
    config.default_leaf("Description", "");
    check::reorder(
        &mut config,
        &["Name", "Description", "SigningProtocol", "SigningBehavior", "OriginAccessControlOriginType"],
    );
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::xml;

    const PUBLIC_KEY: &str = include_str!("../testdata/cloudfront-signer.public.pem");

    fn public_key(key: &str) -> Result<Node> {
        let text = format!(
            "<PublicKeyConfig><CallerReference>r</CallerReference><Name>signer</Name><EncodedKey>{key}</EncodedKey></PublicKeyConfig>"
        );
        check_public_key(xml::parse(text.as_bytes(), "PublicKeyConfig").unwrap())
    }

    #[test]
    fn public_keys_must_be_pem_rsa_spki() {
        assert!(public_key(PUBLIC_KEY).is_ok());
        assert_eq!(
            public_key_der(PUBLIC_KEY).unwrap(),
            include_bytes!("../testdata/cloudfront-signer.spki.der").to_vec()
        );
        assert_eq!(public_key("not a key").unwrap_err().code, "InvalidArgument");
        let truncated: String = PUBLIC_KEY.lines().take(3).collect::<Vec<_>>().join("\n");
        assert!(public_key(&truncated).is_err());
        let private = PUBLIC_KEY.replace("PUBLIC KEY", "PRIVATE KEY");
        assert!(public_key_der(&private).unwrap_err().contains("PRIVATE KEY"));
    }

    #[test]
    fn key_groups_name_one_to_five_keys() {
        let group = |keys: &[&str]| {
            let items: String = keys.iter().map(|key| format!("<PublicKey>{key}</PublicKey>")).collect();
            let text = format!("<KeyGroupConfig><Name>group</Name><Items>{items}</Items></KeyGroupConfig>");
            check_key_group(xml::parse(text.as_bytes(), "KeyGroupConfig").unwrap())
        };
        assert_eq!(key_ids(&group(&["K1", "K2"]).unwrap()), ["K1", "K2"]);
        assert_eq!(group(&[]).unwrap_err().code, "InvalidArgument");
        assert_eq!(group(&["1", "2", "3", "4", "5", "6"]).unwrap_err().code, "TooManyPublicKeysInKeyGroup");
    }

    #[test]
    fn origin_access_controls_take_cloudfronts_values() {
        let control = |behavior: &str| {
            let text = format!(
                "<OriginAccessControlConfig><Name>oac</Name><SigningProtocol>sigv4</SigningProtocol>\
                 <SigningBehavior>{behavior}</SigningBehavior><OriginAccessControlOriginType>s3</OriginAccessControlOriginType>\
                 </OriginAccessControlConfig>"
            );
            check_origin_access_control(xml::parse(text.as_bytes(), "OriginAccessControlConfig").unwrap())
        };
        assert_eq!(control("always").unwrap().text_of("Description"), Some(""));
        assert_eq!(control("sometimes").unwrap_err().code, "InvalidArgument");
    }
}
