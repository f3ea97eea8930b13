//! Groups and membership. A user's groups are kept in its own record, so a
//! sign-in reads one record to fill `cognito:groups`.

use serde_json::{Value, json};

use super::{Input, users::user_json};
use crate::{
    Cognito,
    error::{CognitoError, Result},
    model::{Group, User, UserPool, now},
    store,
};

fn group_json(group: &Group, pool_id: &str) -> Value {
    let mut body = json!({
        "GroupName": group.name,
        "UserPoolId": pool_id,
        "LastModifiedDate": group.modified,
        "CreationDate": group.created,
    });
    if let Some(description) = &group.description {
        body["Description"] = json!(description);
    }
    if let Some(role) = &group.role_arn {
        body["RoleArn"] = json!(role);
    }
    if let Some(precedence) = group.precedence {
        body["Precedence"] = json!(precedence);
    }
    body
}

fn no_group() -> CognitoError {
    CognitoError::not_found("Group not found.")
}

impl Cognito {
    async fn group(&self, pool: &UserPool, name: &str) -> Result<Group> {
        self.store.get::<Group>(&store::groups(&pool.id), name).await?.map(|g| g.value).ok_or_else(no_group)
    }

    pub(crate) async fn create_group(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let name = input.required_nonempty("GroupName")?;
        if name.chars().count() > 128 {
            return Err(CognitoError::validation("groupName", "Member must have length less than or equal to 128"));
        }
        let created = now();
        let group = Group {
            name: name.to_owned(),
            description: input.str("Description")?.map(str::to_owned),
            role_arn: input.str("RoleArn")?.map(str::to_owned),
            precedence: input.i64("Precedence")?,
            created,
            modified: created,
        };
        if !self.store.create(&store::groups(&pool.id), name, &group).await? {
            return Err(CognitoError::group_exists(format!("A group with the name {name} already exists.")));
        }
        Ok(json!({ "Group": group_json(&group, &pool.id) }))
    }

    pub(crate) async fn get_group(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let group = self.group(&pool, input.required_nonempty("GroupName")?).await?;
        Ok(json!({ "Group": group_json(&group, &pool.id) }))
    }

    pub(crate) async fn list_groups(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let limit = input.limit("Limit", 60, 60)?;
        let after = input.str("NextToken")?.unwrap_or("");
        let (groups, next) = self.store.page::<Group>(&store::groups(&pool.id), after, limit).await?;
        let listed: Vec<Value> = groups.iter().map(|(_, group)| group_json(group, &pool.id)).collect();
        let mut body = json!({ "Groups": listed });
        if let Some(next) = next.filter(|_| groups.len() as u32 == limit) {
            body["NextToken"] = json!(next);
        }
        Ok(body)
    }

    pub(crate) async fn update_group(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let name = input.required_nonempty("GroupName")?;
        let description = input.str("Description")?.map(str::to_owned);
        let role = input.str("RoleArn")?.map(str::to_owned);
        let precedence = input.i64("Precedence")?;
        let group = self
            .store
            .update::<Group, _>(&store::groups(&pool.id), name, |group| {
                if description.is_some() {
                    group.description = description.clone();
                }
                if role.is_some() {
                    group.role_arn = role.clone();
                }
                if precedence.is_some() {
                    group.precedence = precedence;
                }
                group.modified = now();
                Ok(())
            })
            .await?
            .ok_or_else(no_group)?;
        Ok(json!({ "Group": group_json(&group, &pool.id) }))
    }

    pub(crate) async fn delete_group(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let group = self.group(&pool, input.required_nonempty("GroupName")?).await?;
        self.store.delete(&store::groups(&pool.id), &group.name).await?;
        for user in self.members(&pool, &group.name).await? {
            self.update_user(&pool, &user.username, |user| {
                user.groups.remove(&group.name);
                Ok(())
            })
            .await?;
        }
        Ok(json!({}))
    }

    async fn members(&self, pool: &UserPool, group: &str) -> Result<Vec<User>> {
        Ok(self
            .store
            .all::<User>(&store::users(&pool.id), "")
            .await?
            .into_iter()
            .map(|(_, user)| user)
            .filter(|user| user.groups.contains(group))
            .collect())
    }

    pub(crate) async fn admin_add_user_to_group(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let group = self.group(&pool, input.required_nonempty("GroupName")?).await?;
        let user = self.require_user(&pool, input.required_nonempty("Username")?).await?.value;
        self.update_user(&pool, &user.username, |user| {
            if !user.groups.contains(&group.name) && user.groups.len() >= 100 {
                return Err(CognitoError::limit_exceeded("A user can be in at most 100 groups."));
            }
            user.groups.insert(group.name.clone());
            Ok(())
        })
        .await?;
        Ok(json!({}))
    }

    pub(crate) async fn admin_remove_user_from_group(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let group = self.group(&pool, input.required_nonempty("GroupName")?).await?;
        let user = self.require_user(&pool, input.required_nonempty("Username")?).await?.value;
        self.update_user(&pool, &user.username, |user| {
            user.groups.remove(&group.name);
            Ok(())
        })
        .await?;
        Ok(json!({}))
    }

    pub(crate) async fn admin_list_groups_for_user(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let user = self.require_user(&pool, input.required_nonempty("Username")?).await?.value;
        let limit = input.limit("Limit", 60, 60)? as usize;
        let after = input.str("NextToken")?.unwrap_or("");
        let mut groups = Vec::new();
        for name in user.groups.iter().filter(|name| name.as_str() > after) {
            if let Some(group) = self.store.get::<Group>(&store::groups(&pool.id), name).await? {
                groups.push(group.value);
            }
        }
        let more = groups.len() > limit;
        groups.truncate(limit);
        let mut body = json!({ "Groups": groups.iter().map(|g| group_json(g, &pool.id)).collect::<Vec<_>>() });
        if more && let Some(last) = groups.last() {
            body["NextToken"] = json!(last.name);
        }
        Ok(body)
    }

    pub(crate) async fn list_users_in_group(&self, input: &Input) -> Result<Value> {
        let pool = self.pool(input.required("UserPoolId")?).await?;
        let group = self.group(&pool, input.required_nonempty("GroupName")?).await?;
        let limit = input.limit("Limit", 60, 60)? as usize;
        let after = input.str("NextToken")?.unwrap_or("");
        let mut members: Vec<User> =
            self.members(&pool, &group.name).await?.into_iter().filter(|u| u.username.as_str() > after).collect();
        members.sort_by(|a, b| a.username.cmp(&b.username));
        let more = members.len() > limit;
        members.truncate(limit);
        let mut body = json!({ "Users": members.iter().map(|u| user_json(u, "Attributes", None)).collect::<Vec<_>>() });
        if more && let Some(last) = members.last() {
            body["NextToken"] = json!(last.username);
        }
        Ok(body)
    }
}
