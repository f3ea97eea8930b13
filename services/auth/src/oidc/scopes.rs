//! OAuth scopes: what a request asks for, limited to what its app client
//! allows (`AllowedOAuthScopes`), with Cognito's rules on top of RFC 6749
//! §3.3: no scope asked means every scope the client has, `email`,
//! `phone` and `profile` need `openid`, and the client credentials grant
//! takes only resource servers' custom scopes (`{identifier}/{scope}`).

/// The OIDC scope; ID tokens and userInfo need it.
pub const OPENID: &str = "openid";
const NEEDS_OPENID: [&str; 3] = ["email", "phone", "profile"];

/// Why a scope request was refused: always RFC 6749's `invalid_scope`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeError(pub String);

/// A custom scope of a resource server, as opposed to a standard one.
pub fn is_custom(scope: &str) -> bool {
    scope.contains('/')
}

/// The scopes of a `scope` parameter, in order, each once. RFC 6749 §3.3:
/// space-delimited tokens of printable ASCII but `"` and `\`.
pub fn parse(raw: &str) -> Result<Vec<String>, ScopeError> {
    let mut scopes: Vec<String> = Vec::new();
    for token in raw.split(' ').filter(|token| !token.is_empty()) {
        if !token.bytes().all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b)) {
            return Err(ScopeError(format!("{token} is not a valid scope")));
        }
        if !scopes.iter().any(|scope| scope == token) {
            scopes.push(token.to_owned());
        }
    }
    Ok(scopes)
}

/// The scopes a user's sign-in is granted: those asked for, or all the
/// client allows when none are; each must be allowed.
pub fn for_user(requested: Option<&str>, allowed: &[String]) -> Result<Vec<String>, ScopeError> {
    let scopes = match requested.map(parse).transpose()? {
        Some(scopes) if !scopes.is_empty() => scopes,
        _ => allowed.to_vec(),
    };
    if let Some(refused) = scopes.iter().find(|scope| !allowed.contains(scope)) {
        return Err(ScopeError(format!("{refused} is not an allowed scope of this client")));
    }
    if !scopes.iter().any(|scope| scope == OPENID)
        && let Some(scope) = scopes.iter().find(|scope| NEEDS_OPENID.contains(&scope.as_str()))
    {
        return Err(ScopeError(format!("{scope} can only be requested with openid")));
    }
    if scopes.is_empty() {
        return Err(ScopeError("the client allows no scope".into()));
    }
    Ok(scopes)
}

/// The scopes a client credentials grant is given: custom scopes only,
/// each allowed to the client and still defined by its resource server.
pub fn for_client(requested: Option<&str>, allowed: &[String], defined: &[String]) -> Result<Vec<String>, ScopeError> {
    let usable: Vec<String> =
        allowed.iter().filter(|scope| is_custom(scope) && defined.contains(scope)).cloned().collect();
    let scopes = match requested.map(parse).transpose()? {
        Some(scopes) if !scopes.is_empty() => scopes,
        _ => usable.clone(),
    };
    if let Some(standard) = scopes.iter().find(|scope| !is_custom(scope)) {
        return Err(ScopeError(format!("{standard} cannot be granted to a client: only custom scopes can")));
    }
    if let Some(refused) = scopes.iter().find(|scope| !usable.contains(scope)) {
        return Err(ScopeError(format!("{refused} is not an allowed scope of this client")));
    }
    if scopes.is_empty() {
        return Err(ScopeError("the client allows no custom scope".into()));
    }
    Ok(scopes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(scopes: &[&str]) -> Vec<String> {
        scopes.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn scope_parameters_parse_as_rfc_6749_says() {
        assert_eq!(parse("openid  email openid").unwrap(), owned(&["openid", "email"]));
        assert_eq!(parse("").unwrap(), Vec::<String>::new());
        assert_eq!(parse("https://api.example.com/read").unwrap(), owned(&["https://api.example.com/read"]));
        assert!(parse("bad\"scope").is_err());
        assert!(parse("bad\\scope").is_err());
        assert!(parse("tab\tscope").is_err());
        assert!(parse("é").is_err());
    }

    #[test]
    fn a_user_gets_what_it_asks_within_what_the_client_allows() {
        let allowed = owned(&["openid", "email", "profile", "shop/read"]);
        assert_eq!(for_user(Some("openid email"), &allowed).unwrap(), owned(&["openid", "email"]));
        assert_eq!(for_user(Some("shop/read"), &allowed).unwrap(), owned(&["shop/read"]));
        // Nothing asked: everything the client allows, as Cognito grants.
        assert_eq!(for_user(None, &allowed).unwrap(), allowed);
        assert_eq!(for_user(Some(" "), &allowed).unwrap(), allowed);
        assert!(for_user(Some("openid phone"), &allowed).unwrap_err().0.contains("phone"));
        assert!(for_user(Some("email"), &allowed).unwrap_err().0.contains("openid"));
        assert!(for_user(Some("openid shop/write"), &allowed).is_err());
        assert!(for_user(None, &[]).is_err());
    }

    #[test]
    fn a_client_gets_custom_scopes_only() {
        let allowed = owned(&["shop/read", "shop/write", "shop/gone"]);
        let defined = owned(&["shop/read", "shop/write"]);
        assert_eq!(for_client(Some("shop/read"), &allowed, &defined).unwrap(), owned(&["shop/read"]));
        assert_eq!(for_client(None, &allowed, &defined).unwrap(), owned(&["shop/read", "shop/write"]));
        assert!(for_client(Some("openid"), &allowed, &defined).unwrap_err().0.contains("only custom"));
        assert!(for_client(Some("aws.cognito.signin.user.admin"), &allowed, &defined).is_err());
        // Allowed once, but its resource server no longer defines it.
        assert!(for_client(Some("shop/gone"), &allowed, &defined).is_err());
        assert!(for_client(Some("other/read"), &allowed, &defined).is_err());
        assert!(for_client(None, &[], &defined).is_err());
    }
}
