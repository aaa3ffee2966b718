//! Fault injection: a rule matches requests by method, path and dry-run, and
//! answers the next N of them with an error, a dropped connection or a delay.

use std::time::Duration;

/// What a matching request gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultAction {
    /// An error `Status` with this HTTP code (500 `InternalError`, 409 an
    /// optimistic-concurrency `Conflict`, 429, 503, 504).
    Status(u16),
    /// The connection is closed after the request is read, with no response.
    Drop,
    /// The request is answered normally after this delay.
    Delay(Duration),
}

/// One fault rule. Rules are tried in the order they were added; the first
/// one that matches and has uses left applies.
#[derive(Debug, Clone)]
pub struct Fault {
    method: Option<String>,
    path: Option<String>,
    dry_run: Option<bool>,
    pub(crate) action: FaultAction,
    pub(crate) remaining: usize,
}

impl Fault {
    fn new(action: FaultAction) -> Fault {
        Fault {
            method: None,
            path: None,
            dry_run: None,
            action,
            remaining: 1,
        }
    }

    /// Answer with an error `Status` of `code`.
    pub fn status(code: u16) -> Fault {
        Fault::new(FaultAction::Status(code))
    }

    /// Close the connection without answering.
    pub fn drop_connection() -> Fault {
        Fault::new(FaultAction::Drop)
    }

    /// Answer after `delay`.
    pub fn delay(delay: Duration) -> Fault {
        Fault::new(FaultAction::Delay(delay))
    }

    /// Only requests with this method (`GET`, `PATCH`, `DELETE`).
    pub fn method(mut self, method: &str) -> Fault {
        self.method = Some(method.to_ascii_uppercase());
        self
    }

    /// Only requests whose path contains `text` (e.g. `/deployments/`).
    pub fn path_contains(mut self, text: &str) -> Fault {
        self.path = Some(text.into());
        self
    }

    /// Only dry-run requests (`true`) or only real ones (`false`).
    pub fn dry_run(mut self, dry_run: bool) -> Fault {
        self.dry_run = Some(dry_run);
        self
    }

    /// Apply to the next `n` matching requests (default 1), then stop.
    pub fn times(mut self, n: usize) -> Fault {
        self.remaining = n;
        self
    }

    pub(crate) fn matches(&self, method: &str, path: &str, dry_run: bool) -> bool {
        self.remaining > 0
            && self.method.as_deref().is_none_or(|m| m == method)
            && self.path.as_deref().is_none_or(|p| path.contains(p))
            && self.dry_run.is_none_or(|d| d == dry_run)
    }
}
