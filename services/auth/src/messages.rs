//! Where codes and invitations go. Cognito sends them by email or SMS;
//! nubo hands each to a pluggable sender: a file of JSON lines by default
//! (tests and example apps read codes from it), or the log.

use std::{io::Write as _, path::PathBuf, sync::Arc};

use serde::{Deserialize, Serialize};

/// `[auth.messages]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MessagesConfig {
    /// `file` (one JSON line a message) or `log` (an INFO line each).
    pub sender: String,
    /// The file's directory; `auth/` under the state directory by default.
    pub dir: Option<PathBuf>,
    /// Codes one user may be sent in an hour (sign-up, resend, forgot
    /// password, attribute verification).
    pub per_user_per_hour: u32,
}

impl Default for MessagesConfig {
    fn default() -> Self {
        Self { sender: "file".into(), dir: None, per_user_per_hour: 10 }
    }
}

/// One message: who it is for, why, and the code or password it carries.
#[derive(Debug, Clone, Serialize)]
pub struct Message<'a> {
    pub pool_id: &'a str,
    pub username: &'a str,
    /// `EMAIL` or `SMS`.
    pub medium: &'a str,
    pub destination: &'a str,
    /// `SignUp`, `ForgotPassword`, `VerifyUserAttribute`, `AdminCreateUser`,
    /// `Authentication`, `ResendCode`.
    pub purpose: &'a str,
    pub code: &'a str,
    pub text: String,
}

#[derive(Debug, Clone)]
pub enum Sender {
    File(Arc<std::sync::Mutex<PathBuf>>),
    Log,
}

impl Sender {
    pub fn new(config: &MessagesConfig, state_dir: &std::path::Path) -> Result<Self, String> {
        match config.sender.as_str() {
            "log" => Ok(Self::Log),
            "file" => {
                let dir = config.dir.clone().unwrap_or_else(|| state_dir.join("auth"));
                let dir = if dir.is_absolute() { dir } else { state_dir.join(dir) };
                std::fs::create_dir_all(&dir).map_err(|error| format!("cannot make {}: {error}", dir.display()))?;
                Ok(Self::File(Arc::new(std::sync::Mutex::new(dir.join("messages.jsonl")))))
            }
            other => Err(format!("[auth.messages] sender must be file or log, not {other}")),
        }
    }

    /// The file messages are appended to, if they go to one.
    pub fn path(&self) -> Option<PathBuf> {
        match self {
            Self::File(path) => Some(path.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()),
            Self::Log => None,
        }
    }

    pub async fn send(&self, message: &Message<'_>) {
        match self {
            Self::Log => {
                tracing::info!(
                    pool = message.pool_id,
                    username = message.username,
                    medium = message.medium,
                    destination = message.destination,
                    purpose = message.purpose,
                    code = message.code,
                    "message sent"
                );
            }
            Self::File(path) => {
                let mut line = serde_json::to_vec(message).unwrap_or_default();
                line.push(b'\n');
                let path = path.clone();
                let written = tokio::task::spawn_blocking(move || {
                    let path = path.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    std::fs::OpenOptions::new().create(true).append(true).open(&*path)?.write_all(&line)
                })
                .await;
                if !matches!(written, Ok(Ok(()))) {
                    tracing::warn!(purpose = message.purpose, "a message could not be written");
                }
            }
        }
    }
}

/// An address as CodeDeliveryDetails shows it: `a***@e***`.
pub fn mask(destination: &str) -> String {
    match destination.split_once('@') {
        Some((local, domain)) => {
            let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
            format!("{}***@{}***", first(local), first(domain))
        }
        None => {
            let digits: String = destination.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
            format!("+*******{digits}")
        }
    }
}
