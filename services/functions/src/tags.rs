//! Tags on functions, addressed by the function's ARN as Lambda's tagging
//! API is (TagResource, UntagResource, ListTags).

use std::collections::BTreeMap;

use crate::{
    error::{LambdaError, Result},
    lambda::Lambda,
};

/// Lambda's limit on tags per function.
const MAX_TAGS: usize = 50;

impl Lambda {
    /// The function an ARN of the tagging API names (unqualified only).
    fn tagged(&self, arn: &str) -> Result<String> {
        if !arn.starts_with("arn:") || arn.split(':').count() != 7 {
            return Err(LambdaError::InvalidParameterValue(format!("Invalid ARN: {arn}")));
        }
        Ok(arn.to_owned())
    }

    pub async fn tag_resource(&self, arn: &str, tags: BTreeMap<String, String>) -> Result<()> {
        let latest = self.latest(&self.tagged(arn)?).await?;
        let mut function = latest.function;
        function.tags.extend(tags);
        if function.tags.len() > MAX_TAGS {
            return Err(LambdaError::InvalidParameterValue(format!(
                "Number of tags exceeds resource tag limit of {MAX_TAGS}."
            )));
        }
        self.registry.put(&function, latest.version).await?;
        Ok(())
    }

    pub async fn untag_resource(&self, arn: &str, keys: &[String]) -> Result<()> {
        let latest = self.latest(&self.tagged(arn)?).await?;
        let mut function = latest.function;
        for key in keys {
            function.tags.remove(key);
        }
        self.registry.put(&function, latest.version).await?;
        Ok(())
    }

    pub async fn list_tags(&self, arn: &str) -> Result<BTreeMap<String, String>> {
        Ok(self.latest(&self.tagged(arn)?).await?.function.tags)
    }
}
