//! Error answers in the shape of the real server's `Status` objects, so the
//! real client parses them exactly as it would in a cluster.

use std::fmt;

use serde_json::{json, Value};

use crate::resources::Resource;

/// A failed request: HTTP code, `reason`, `message` and `details`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// Machine-readable reason (`NotFound`, `Conflict`, `Invalid`, ...).
    pub reason: &'static str,
    /// Human-readable message.
    pub message: String,
    /// `details` (name, group, kind, causes), or null.
    pub details: Box<Value>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: String, details: Value) -> ApiError {
        ApiError {
            code,
            reason,
            message,
            details: Box::new(details),
        }
    }

    /// 404 for an object of `r`.
    pub fn not_found(r: &Resource, name: &str) -> ApiError {
        ApiError::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", r.qualified()),
            json!({"name": name, "group": r.group, "kind": r.plural}),
        )
    }

    /// 404 for a path the double does not serve.
    pub fn no_route(path: &str) -> ApiError {
        ApiError::new(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
            Value::Null,
        )
    }

    /// 400.
    pub fn bad_request(message: String) -> ApiError {
        ApiError::new(400, "BadRequest", message, Value::Null)
    }

    /// 405.
    pub fn method_not_allowed(method: &str) -> ApiError {
        ApiError::new(
            405,
            "MethodNotAllowed",
            format!("the server does not allow this method on the requested resource ({method})"),
            Value::Null,
        )
    }

    /// 415.
    pub fn unsupported_media_type(content_type: &str) -> ApiError {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format ({content_type})"),
            Value::Null,
        )
    }

    /// 422 naming `field` (may be empty), as validation and webhooks answer.
    pub fn invalid(r: &Resource, name: &str, field: &str, message: &str) -> ApiError {
        let prefix = if field.is_empty() {
            String::new()
        } else {
            format!("{field}: ")
        };
        ApiError::new(
            422,
            "Invalid",
            format!(
                "{} \"{name}\" is invalid: {prefix}{message}",
                r.qualified_kind()
            ),
            json!({
                "name": name, "group": r.group, "kind": r.kind,
                "causes": [{"reason": "FieldValueInvalid", "message": message, "field": field}],
            }),
        )
    }

    /// 409 of server-side apply: fields owned by other managers, as
    /// `(manager, apiVersion, field)`.
    pub fn field_conflicts(conflicts: &[(String, String, String)]) -> ApiError {
        let n = conflicts.len();
        let mut groups: Vec<(&str, &str, Vec<&str>)> = Vec::new();
        for (manager, version, field) in conflicts {
            match groups
                .iter_mut()
                .find(|(m, v, _)| m == manager && v == version)
            {
                Some(g) => g.2.push(field),
                None => groups.push((manager, version, vec![field])),
            }
        }
        let parts: Vec<String> = groups
            .iter()
            .map(|(m, v, fields)| match fields.as_slice() {
                [one] => format!("conflict with \"{m}\" using {v}: {one}"),
                many => format!(
                    "conflicts with \"{m}\" using {v}:\n{}",
                    many.iter()
                        .map(|f| format!("- {f}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                ),
            })
            .collect();
        let plural = if n == 1 { "" } else { "s" };
        let causes: Vec<Value> = conflicts
            .iter()
            .map(|(m, v, f)| {
                json!({"reason": "FieldManagerConflict", "message": format!("conflict with \"{m}\" using {v}"), "field": f})
            })
            .collect();
        ApiError::new(
            409,
            "Conflict",
            format!(
                "Apply failed with {n} conflict{plural}: {}",
                parts.join("\n")
            ),
            json!({"causes": causes}),
        )
    }

    /// 409 of a create whose object exists.
    pub fn already_exists(r: &Resource, name: &str) -> ApiError {
        ApiError::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", r.qualified()),
            json!({"name": name, "group": r.group, "kind": r.plural}),
        )
    }

    /// 409 of an update whose `metadata.resourceVersion` is not the stored
    /// one (optimistic concurrency), in the real server's words.
    pub fn stale(r: &Resource, name: &str) -> ApiError {
        ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                r.qualified()
            ),
            json!({"name": name, "group": r.group, "kind": r.plural}),
        )
    }

    /// An injected failure with HTTP `code`.
    pub fn injected(code: u16, path: &str) -> ApiError {
        let (reason, message) = match code {
            409 => (
                "Conflict",
                format!("Operation cannot be fulfilled on {path}: the object has been modified; please apply your changes to the latest version and try again"),
            ),
            429 => ("TooManyRequests", "too many requests, please try again later".to_string()),
            503 => ("ServiceUnavailable", "the server is currently unable to handle the request".to_string()),
            504 => ("Timeout", "the server was unable to return a response in the time allotted".to_string()),
            _ => ("InternalError", format!("Internal error occurred: injected fault on {path}")),
        };
        ApiError::new(code, reason, message, Value::Null)
    }

    /// The `Status` object sent on the wire.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if !self.details.is_null() {
            status["details"] = (*self.details).clone();
        }
        status
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}
