//! Reserved concurrency and the account's settings. A function's
//! reservation caps how many of its invocations run at once (over all its
//! versions; zero throttles it entirely) and is taken out of the account's
//! pool, which must keep a tenth of itself unreserved, as Lambda keeps 100
//! of its default 1,000. The pool is this host's environment limit.

use serde_json::{Value, json};

use crate::{
    error::{LambdaError, Result},
    lambda::Lambda,
    model::Function,
};

impl Lambda {
    /// The account's concurrency: what this host runs at once.
    fn account_concurrency(&self) -> u32 {
        self.invoker.limits().max_environments as u32
    }

    /// Every function's `$LATEST` record.
    async fn all_functions(&self) -> Result<Vec<Function>> {
        let mut all = Vec::new();
        let mut marker = String::new();
        loop {
            let (page, next) = self.registry.list(&marker, 1000).await?;
            all.extend(page);
            match next {
                Some(next) => marker = next,
                None => return Ok(all),
            }
        }
    }

    pub async fn put_concurrency(&self, reference: &str, reserved: i64) -> Result<u32> {
        let latest = self.latest(reference).await?;
        let reserved = u32::try_from(reserved).map_err(|_| {
            LambdaError::Validation(format!(
                "1 validation error detected: Value '{reserved}' at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 0"
            ))
        })?;
        let others: u32 = self
            .all_functions()
            .await?
            .iter()
            .filter(|function| function.name != latest.function.name)
            .filter_map(|function| function.settings.reserved_concurrency)
            .sum();
        let account = self.account_concurrency();
        let minimum = (account / 10).max(1);
        if others.saturating_add(reserved) > account.saturating_sub(minimum) {
            return Err(LambdaError::InvalidParameterValue(format!(
                "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [{minimum}]."
            )));
        }
        let mut function = latest.function;
        function.settings.reserved_concurrency = Some(reserved);
        self.registry.put(&function, latest.version).await?;
        Ok(reserved)
    }

    pub async fn get_concurrency(&self, reference: &str) -> Result<Option<u32>> {
        Ok(self.latest(reference).await?.function.settings.reserved_concurrency)
    }

    pub async fn delete_concurrency(&self, reference: &str) -> Result<()> {
        let latest = self.latest(reference).await?;
        let mut function = latest.function;
        function.settings.reserved_concurrency = None;
        self.registry.put(&function, latest.version).await?;
        Ok(())
    }

    /// GetAccountSettings's answer.
    pub async fn account_settings(&self) -> Result<Value> {
        let functions = self.all_functions().await?;
        let reserved: u32 = functions.iter().filter_map(|function| function.settings.reserved_concurrency).sum();
        let code_size: u64 = functions.iter().map(|function| function.code_size).sum();
        let account = self.account_concurrency();
        Ok(json!({
            "AccountLimit": {
                "TotalCodeSize": 80_530_636_800u64,
                "CodeSizeUnzipped": crate::code::MAX_UNZIPPED_BYTES,
                "CodeSizeZipped": crate::code::MAX_ZIPPED_BYTES,
                "ConcurrentExecutions": account,
                "UnreservedConcurrentExecutions": account.saturating_sub(reserved),
            },
            "AccountUsage": { "TotalCodeSize": code_size, "FunctionCount": functions.len() },
        }))
    }
}
