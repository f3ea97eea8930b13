//! Stages and deployments. A deployment is a snapshot of the API (its
//! routes, integrations, CORS, everything but its stages and deployments);
//! a stage that auto-deploys serves the API as it is now, one that does not
//! serves the snapshot of its `deploymentId`, and nothing before it has one
//! (API Gateway answers `Not Found` there too).

use std::collections::BTreeMap;

use actix_web::HttpResponse;
use serde::Deserialize;

use crate::{
    apis::Apis,
    error::{GatewayError, Result},
    management::{CreateStageInput, not_found, update},
    model::{Api, Deployment, RouteSettings, Stage, new_id, timestamp},
};

/// The definition `stage` serves, or `None` when it has nothing deployed.
pub fn served<'a>(api: &'a Api, stage: &Stage) -> Option<&'a Api> {
    if stage.auto_deploy {
        return Some(api);
    }
    api.deployments.iter().find(|deployment| deployment.deployment_id == stage.deployment_id).map(|d| &*d.snapshot)
}

/// The throttling and metrics settings that hold for `route_key` on `stage`.
pub fn route_settings(stage: &Stage, route_key: &str) -> RouteSettings {
    match stage.route_settings.get(route_key) {
        Some(over) => stage.default_route_settings.overlaid(over),
        None => stage.default_route_settings.clone(),
    }
}

fn check_settings(settings: &RouteSettings) -> Result<()> {
    if settings.throttling_burst_limit.is_some_and(|burst| burst < 0)
        || settings.throttling_rate_limit.is_some_and(|rate| rate < 0.0 || !rate.is_finite())
    {
        return Err(GatewayError::BadRequest("Throttling limits must be non-negative".into()));
    }
    Ok(())
}

/// Lays a CreateStage or UpdateStage body over `stage`.
pub(crate) fn apply_stage_input(api: &Api, stage: &mut Stage, input: &CreateStageInput) -> Result<()> {
    if let Some(auto_deploy) = input.auto_deploy {
        stage.auto_deploy = auto_deploy;
    }
    if let Some(deployment_id) = &input.deployment_id {
        if !api.deployments.iter().any(|deployment| &deployment.deployment_id == deployment_id) {
            return Err(GatewayError::BadRequest(format!("Invalid deployment identifier specified {deployment_id}")));
        }
        stage.deployment_id = deployment_id.clone();
    }
    if let Some(variables) = &input.stage_variables {
        for (name, value) in variables {
            if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || name.len() > 64 {
                return Err(GatewayError::BadRequest(format!(
                    "Stage variable name {name} must be alphanumeric or underscores, at most 64 characters"
                )));
            }
            // An empty value removes the variable, as UpdateStage takes it.
            if value.is_empty() {
                stage.stage_variables.remove(name);
            } else {
                stage.stage_variables.insert(name.clone(), value.clone());
            }
        }
    }
    if let Some(description) = &input.description {
        stage.description = description.clone();
    }
    if let Some(settings) = &input.access_log_settings {
        stage.access_log_settings =
            Some(settings.clone()).filter(|s| s.destination_arn.is_some() || s.format.is_some());
        if let Some(format) = stage.access_log_settings.as_ref().and_then(|s| s.format.as_deref()) {
            crate::access_log::Format::parse(format)?;
        }
    }
    if let Some(settings) = &input.default_route_settings {
        check_settings(settings)?;
        stage.default_route_settings = settings.clone();
    }
    if let Some(by_route) = &input.route_settings {
        for (route_key, settings) in by_route {
            check_settings(settings)?;
            if !api.routes.iter().any(|route| &route.route_key == route_key) {
                return Err(GatewayError::NotFound(format!(
                    "Unable to find Route by key {route_key} within the provided RouteSettings"
                )));
            }
            stage.route_settings.insert(route_key.clone(), settings.clone());
        }
    }
    if let Some(tags) = &input.tags {
        stage.tags.extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    Ok(())
}

pub async fn update_stage(apis: &Apis, api_id: &str, name: &str, input: CreateStageInput) -> Result<HttpResponse> {
    let stage = update(apis, api_id, |api| {
        let index =
            api.stages.iter().position(|stage| stage.stage_name == name).ok_or_else(|| not_found("Stage", name))?;
        let mut stage = api.stages[index].clone();
        apply_stage_input(api, &mut stage, &input)?;
        stage.last_updated_date = timestamp();
        api.stages[index] = stage.clone();
        Ok(stage)
    })
    .await?;
    Ok(HttpResponse::Ok().json(stage.to_json()))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentInput {
    description: Option<String>,
    stage_name: Option<String>,
}

/// The API as a deployment keeps it.
fn snapshot(api: &Api) -> Api {
    Api { stages: Vec::new(), deployments: Vec::new(), ..api.clone() }
}

pub async fn create_deployment(apis: &Apis, api_id: &str, input: DeploymentInput) -> Result<HttpResponse> {
    let deployment = update(apis, api_id, |api| {
        let deployment = Deployment {
            deployment_id: new_id()[..6].to_owned(),
            description: input.description.clone().unwrap_or_default(),
            created_date: timestamp(),
            auto_deployed: false,
            snapshot: Box::new(snapshot(api)),
        };
        if let Some(stage_name) = &input.stage_name {
            let stage =
                api.stages.iter_mut().find(|stage| &stage.stage_name == stage_name).ok_or_else(|| {
                    GatewayError::NotFound(format!("Invalid stage identifier specified {stage_name}"))
                })?;
            stage.deployment_id = deployment.deployment_id.clone();
            stage.last_updated_date = deployment.created_date.clone();
        }
        api.deployments.push(deployment.clone());
        Ok(deployment)
    })
    .await?;
    Ok(HttpResponse::Created().json(deployment.to_json()))
}

pub async fn get_deployment(apis: &Apis, api_id: &str, deployment_id: &str) -> Result<HttpResponse> {
    let api = apis.get(api_id).await?.api;
    let deployment = api
        .deployments
        .iter()
        .find(|deployment| deployment.deployment_id == deployment_id)
        .ok_or_else(|| not_found("Deployment", deployment_id))?;
    Ok(HttpResponse::Ok().json(deployment.to_json()))
}

pub async fn update_deployment(
    apis: &Apis,
    api_id: &str,
    deployment_id: &str,
    input: DeploymentInput,
) -> Result<HttpResponse> {
    let deployment = update(apis, api_id, |api| {
        let deployment = api
            .deployments
            .iter_mut()
            .find(|deployment| deployment.deployment_id == deployment_id)
            .ok_or_else(|| not_found("Deployment", deployment_id))?;
        if let Some(description) = input.description {
            deployment.description = description;
        }
        Ok(deployment.clone())
    })
    .await?;
    Ok(HttpResponse::Ok().json(deployment.to_json()))
}

pub async fn delete_deployment(apis: &Apis, api_id: &str, deployment_id: &str) -> Result<HttpResponse> {
    update(apis, api_id, |api| {
        if api.stages.iter().any(|stage| stage.deployment_id == deployment_id) {
            return Err(GatewayError::BadRequest(
                "Active stages pointing to this deployment must be moved or deleted".into(),
            ));
        }
        let before = api.deployments.len();
        api.deployments.retain(|deployment| deployment.deployment_id != deployment_id);
        if api.deployments.len() == before { Err(not_found("Deployment", deployment_id)) } else { Ok(()) }
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Stage variables substituted into a string: `${stageVariables.name}`
/// becomes the variable's value (empty when unset), as API Gateway does in
/// integration URIs.
pub fn substitute_stage_variables(text: &str, variables: &BTreeMap<String, String>) -> String {
    const OPEN: &str = "${stageVariables.";
    if !text.contains(OPEN) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        match after.find('}') {
            Some(end) => {
                out.push_str(variables.get(&after[..end]).map(String::as_str).unwrap_or(""));
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_variables_fill_uris() {
        let variables: BTreeMap<String, String> = [("host".to_string(), "backend:81".to_string())].into();
        assert_eq!(
            substitute_stage_variables("http://${stageVariables.host}/x/${stageVariables.none}", &variables),
            "http://backend:81/x/"
        );
        assert_eq!(
            substitute_stage_variables("http://a/${stageVariables.host", &variables),
            "http://a/${stageVariables.host"
        );
    }

    #[test]
    fn a_stage_serves_its_deployment_or_the_draft() {
        let mut api = Api { name: "draft".into(), ..Api::default() };
        api.deployments.push(Deployment {
            deployment_id: "d1".into(),
            description: String::new(),
            created_date: String::new(),
            auto_deployed: false,
            snapshot: Box::new(Api { name: "deployed".into(), ..Api::default() }),
        });
        let manual = Stage { deployment_id: "d1".into(), ..Stage::default() };
        assert_eq!(served(&api, &manual).unwrap().name, "deployed");
        let auto = Stage { auto_deploy: true, deployment_id: "d1".into(), ..Stage::default() };
        assert_eq!(served(&api, &auto).unwrap().name, "draft");
        assert!(served(&api, &Stage::default()).is_none());
    }

    #[test]
    fn route_settings_lay_over_the_default() {
        let mut stage = Stage::default();
        stage.default_route_settings.throttling_rate_limit = Some(10.0);
        stage.default_route_settings.throttling_burst_limit = Some(5);
        stage
            .route_settings
            .insert("GET /a".into(), RouteSettings { throttling_burst_limit: Some(1), ..Default::default() });
        let settings = route_settings(&stage, "GET /a");
        assert_eq!((settings.throttling_rate_limit, settings.throttling_burst_limit), (Some(10.0), Some(1)));
        assert_eq!(route_settings(&stage, "GET /b").throttling_burst_limit, Some(5));
    }
}
