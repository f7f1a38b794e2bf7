//! The one error type that crosses IPC. It serialises as
//! `{code, message, fields}`: the UI switches on `code` (hub-core's stable
//! codes) and shows each `fields` entry beside its input, never parsing text.

use hub_core::FieldError;
use serde::Serialize;
use ts_rs::TS;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct CommandError {
    /// `validation`, `not_found`, `locked`, `not_a_database`, `database` or `io`.
    pub code: String,
    pub message: String,
    pub fields: Vec<FieldError>,
}

impl From<hub_core::Error> for CommandError {
    fn from(err: hub_core::Error) -> Self {
        let code = err.code();
        if !matches!(code, "validation" | "not_found") {
            // Validation and missing rows are the user's business; anything
            // else is worth a line in the log with the full cause.
            tracing::warn!(code, error = ?err, "command failed");
        }
        CommandError {
            code: code.to_owned(),
            message: err.to_string(),
            fields: err.field_errors().to_vec(),
        }
    }
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for CommandError {}

pub type CommandResult<T> = Result<T, CommandError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors_keep_their_fields() {
        let err = CommandError::from(hub_core::Error::invalid(
            "emails[0]",
            "not an email address",
        ));
        let json = serde_json::to_value(&err).unwrap();
        assert_eq!(json["code"], "validation");
        assert_eq!(json["fields"][0]["field"], "emails[0]");
        assert_eq!(json["fields"][0]["message"], "not an email address");
        assert!(json["message"]
            .as_str()
            .unwrap()
            .contains("not an email address"));
    }

    #[test]
    fn other_errors_have_a_code_and_no_fields() {
        let err = CommandError::from(hub_core::Error::Locked {
            path: "/tmp/hub.db".into(),
        });
        assert_eq!(err.code, "locked");
        assert!(err.fields.is_empty());
        assert!(err.message.contains("/tmp/hub.db"));
    }
}
