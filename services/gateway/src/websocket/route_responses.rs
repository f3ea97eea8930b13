//! Route responses of WebSocket routes (`CreateRouteResponse` and its
//! Get/Delete): a route with a `$default` route response sends its
//! integration's reply back to the client on the socket; one without
//! keeps the reply to itself, as API Gateway does.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    error::{GatewayError, Result},
    management::{Management, not_found, parse_json, update},
    model::{Api, new_id},
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteResponse {
    pub route_response_id: String,
    pub route_id: String,
    pub route_response_key: String,
}

impl RouteResponse {
    pub fn to_json(&self) -> Value {
        json!({
            "routeResponseId": self.route_response_id,
            "routeResponseKey": self.route_response_key,
            "responseModels": {},
            "responseParameters": {},
        })
    }
}

/// Whether a reply on `route_id` goes back to the client.
pub fn replies(api: &Api, route_id: &str) -> bool {
    api.route_responses
        .iter()
        .any(|response| response.route_id == route_id && response.route_response_key == "$default")
}

#[derive(Debug, PartialEq, Eq)]
pub enum Operation {
    Create(String, String),
    List(String, String),
    Get(String, String, String),
    Delete(String, String, String),
}

impl Operation {
    pub fn name(&self) -> &'static str {
        match self {
            Operation::Create(..) => "CreateRouteResponse",
            Operation::List(..) => "GetRouteResponses",
            Operation::Get(..) => "GetRouteResponse",
            Operation::Delete(..) => "DeleteRouteResponse",
        }
    }

    /// `/v2/apis/{apiId}/routes/{routeId}/routeresponses[/{id}]`.
    pub fn parse(method: &str, path: &str) -> Option<Self> {
        let rest = path.strip_prefix("/v2/apis/")?;
        let segments: Vec<String> =
            rest.split('/').filter(|s| !s.is_empty()).map(nubo_host::sigv4::percent_decode).collect();
        let s: Vec<&str> = segments.iter().map(String::as_str).collect();
        let owned = |value: &str| value.to_owned();
        Some(match (method, s.as_slice()) {
            ("POST", [api, "routes", route, "routeresponses"]) => Operation::Create(owned(api), owned(route)),
            ("GET", [api, "routes", route, "routeresponses"]) => Operation::List(owned(api), owned(route)),
            ("GET", [api, "routes", route, "routeresponses", id]) => {
                Operation::Get(owned(api), owned(route), owned(id))
            }
            ("DELETE", [api, "routes", route, "routeresponses", id]) => {
                Operation::Delete(owned(api), owned(route), owned(id))
            }
            _ => return None,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateInput {
    route_response_key: Option<String>,
}

/// Answers one route response call of the management API.
pub async fn handle(
    request: &HttpRequest,
    raw: bytes::Bytes,
    management: &web::Data<Management>,
    operation: Operation,
) -> Result<HttpResponse> {
    nubo_host::front::name_operation(request, operation.name());
    let body = match management.front.verify_body(request, raw) {
        Ok(signed) => signed.body,
        Err(refused) => return Ok(management.front.error(&refused)),
    };
    let apis = &management.apis;
    let route_of = |api: &Api, route_id: &str| -> Result<()> {
        api.routes
            .iter()
            .any(|route| route.route_id == route_id)
            .then_some(())
            .ok_or_else(|| not_found("Route", route_id))
    };
    match operation {
        Operation::Create(api_id, route_id) => {
            let input: CreateInput = parse_json(&body)?;
            let key = input
                .route_response_key
                .filter(|key| !key.is_empty())
                .ok_or_else(|| GatewayError::BadRequest("Invalid input: routeResponseKey is required".into()))?;
            let created = update(apis, &api_id, |api| {
                if api.protocol_type != "WEBSOCKET" {
                    return Err(GatewayError::BadRequest(
                        "Route responses are only supported for WebSocket APIs".into(),
                    ));
                }
                route_of(api, &route_id)?;
                if api.route_responses.iter().any(|r| r.route_id == route_id && r.route_response_key == key) {
                    return Err(GatewayError::Conflict(format!(
                        "Unable to create route response {key}. A route response with the same key already exists."
                    )));
                }
                let response = RouteResponse {
                    route_response_id: new_id()[..6].to_owned(),
                    route_id: route_id.clone(),
                    route_response_key: key,
                };
                api.route_responses.push(response.clone());
                Ok(response)
            })
            .await?;
            Ok(HttpResponse::Created().json(created.to_json()))
        }
        Operation::List(api_id, route_id) => {
            let api = apis.get(&api_id).await?.api;
            route_of(&api, &route_id)?;
            let items: Vec<Value> =
                api.route_responses.iter().filter(|r| r.route_id == route_id).map(RouteResponse::to_json).collect();
            Ok(HttpResponse::Ok().json(json!({ "items": items })))
        }
        Operation::Get(api_id, route_id, id) => {
            let api = apis.get(&api_id).await?.api;
            route_of(&api, &route_id)?;
            let response = api
                .route_responses
                .iter()
                .find(|r| r.route_id == route_id && r.route_response_id == id)
                .ok_or_else(|| not_found("RouteResponse", &id))?;
            Ok(HttpResponse::Ok().json(response.to_json()))
        }
        Operation::Delete(api_id, route_id, id) => {
            update(apis, &api_id, |api| {
                route_of(api, &route_id)?;
                let before = api.route_responses.len();
                api.route_responses.retain(|r| !(r.route_id == route_id && r.route_response_id == id));
                if api.route_responses.len() == before { Err(not_found("RouteResponse", &id)) } else { Ok(()) }
            })
            .await?;
            Ok(HttpResponse::NoContent().finish())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_recognised() {
        assert_eq!(
            Operation::parse("POST", "/v2/apis/a1/routes/r1/routeresponses"),
            Some(Operation::Create("a1".into(), "r1".into()))
        );
        assert_eq!(
            Operation::parse("DELETE", "/v2/apis/a1/routes/r1/routeresponses/x1"),
            Some(Operation::Delete("a1".into(), "r1".into(), "x1".into()))
        );
        assert_eq!(Operation::parse("GET", "/v2/apis/a1/routes/r1"), None);
    }
}
