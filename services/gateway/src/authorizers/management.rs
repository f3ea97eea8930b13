//! The management API's authorizer operations on HTTP APIs
//! (CreateAuthorizer, GetAuthorizers, GetAuthorizer, UpdateAuthorizer,
//! DeleteAuthorizer), and the check a route's authorization settings pass.

use actix_web::HttpResponse;
use serde_json::json;

use super::definition::{Authorizer, AuthorizerInput, MAX_AUTHORIZERS};
use crate::{
    apis::Apis,
    error::{GatewayError, Result},
    management::{parse_json, update},
    model::{Api, Route, new_id},
};

fn not_found(id: &str) -> GatewayError {
    GatewayError::NotFound(format!("Invalid Authorizer identifier specified {id}"))
}

pub async fn create(apis: &Apis, api_id: &str, body: &[u8]) -> Result<HttpResponse> {
    let input: AuthorizerInput = parse_json(body)?;
    let id = new_id()[..6].to_owned();
    let authorizer = if apis.get(api_id).await?.api.protocol_type == "WEBSOCKET" {
        crate::websocket::authorizer_rules::create(id, input)?
    } else {
        Authorizer::create(id, input)?
    };
    let created = update(apis, api_id, |api| {
        if api.authorizers.len() >= MAX_AUTHORIZERS {
            return Err(GatewayError::BadRequest(format!(
                "Unable to create authorizer: an API has at most {MAX_AUTHORIZERS} authorizers"
            )));
        }
        if api.authorizers.iter().any(|existing| existing.name == authorizer.name) {
            return Err(GatewayError::Conflict(format!(
                "Unable to create authorizer {}: an authorizer with the same name already exists",
                authorizer.name
            )));
        }
        api.authorizers.push(authorizer.clone());
        Ok(authorizer.clone())
    })
    .await?;
    Ok(HttpResponse::Created().json(created.to_json()))
}

pub async fn list(apis: &Apis, api_id: &str) -> Result<HttpResponse> {
    let api = apis.get(api_id).await?.api;
    let items: Vec<_> = api.authorizers.iter().map(Authorizer::to_json).collect();
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

pub async fn get(apis: &Apis, api_id: &str, authorizer_id: &str) -> Result<HttpResponse> {
    let api = apis.get(api_id).await?.api;
    let authorizer = api
        .authorizers
        .iter()
        .find(|authorizer| authorizer.authorizer_id == authorizer_id)
        .ok_or_else(|| not_found(authorizer_id))?;
    Ok(HttpResponse::Ok().json(authorizer.to_json()))
}

pub async fn patch(apis: &Apis, api_id: &str, authorizer_id: &str, body: &[u8]) -> Result<HttpResponse> {
    let input: AuthorizerInput = parse_json(body)?;
    let updated = update(apis, api_id, |api| {
        let authorizer = api
            .authorizers
            .iter_mut()
            .find(|authorizer| authorizer.authorizer_id == authorizer_id)
            .ok_or_else(|| not_found(authorizer_id))?;
        let mut changed = authorizer.clone();
        if api.protocol_type == "WEBSOCKET" {
            crate::websocket::authorizer_rules::apply(&mut changed, input)?;
        } else {
            changed.apply(input)?;
        }
        *authorizer = changed.clone();
        // A route of the old kind must not be left naming one of another.
        for route in &api.routes {
            check_route(api, route)?;
        }
        Ok(changed)
    })
    .await?;
    Ok(HttpResponse::Ok().json(updated.to_json()))
}

pub async fn delete(apis: &Apis, api_id: &str, authorizer_id: &str) -> Result<HttpResponse> {
    update(apis, api_id, |api| {
        if let Some(route) = api.routes.iter().find(|route| route.authorizer_id == authorizer_id) {
            return Err(GatewayError::Conflict(format!(
                "Cannot delete authorizer '{authorizer_id}', is referenced in route: {}",
                route.route_key
            )));
        }
        let before = api.authorizers.len();
        api.authorizers.retain(|authorizer| authorizer.authorizer_id != authorizer_id);
        if api.authorizers.len() == before { Err(not_found(authorizer_id)) } else { Ok(()) }
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A route's `authorizationType`, `authorizerId` and `authorizationScopes`
/// must agree: JWT and CUSTOM routes name an authorizer of their kind,
/// NONE and AWS_IAM routes none, and only JWT routes take scopes.
pub fn check_route(api: &Api, route: &Route) -> Result<()> {
    let bad = |message: String| Err(GatewayError::BadRequest(message));
    let wanted = match route.authorization_type.as_str() {
        "NONE" | "AWS_IAM" => {
            if !route.authorizer_id.is_empty() {
                return bad(format!(
                    "AuthorizerId cannot be specified for a route with authorization type {}",
                    route.authorization_type
                ));
            }
            None
        }
        "JWT" => Some("JWT"),
        "CUSTOM" => Some("REQUEST"),
        other => return bad(format!("Invalid authorization type {other}: expected NONE, AWS_IAM, JWT or CUSTOM")),
    };
    if !route.authorization_scopes.is_empty() && route.authorization_type != "JWT" {
        return bad("AuthorizationScopes are supported only for JWT authorizers".into());
    }
    let Some(kind) = wanted else { return Ok(()) };
    if route.authorizer_id.is_empty() {
        return bad(format!(
            "AuthorizerId is required for a route with authorization type {}",
            route.authorization_type
        ));
    }
    match api.authorizers.iter().find(|authorizer| authorizer.authorizer_id == route.authorizer_id) {
        None => bad(format!("Invalid authorizer identifier specified {}", route.authorizer_id)),
        Some(authorizer) if authorizer.authorizer_type != kind => bad(format!(
            "Authorization type {} cannot be used with an authorizer of type {}",
            route.authorization_type, authorizer.authorizer_type
        )),
        Some(_) => Ok(()),
    }
}
