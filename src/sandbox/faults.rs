//! Fault injection: the next N requests matching a verb and resource fail with a chosen code;
//! a fixed latency can be added to every request.

use std::time::Duration;

use super::error::ApiError;

#[derive(Debug, Clone)]
struct Rule {
    remaining: u32,
    verb: String,
    resource: String,
    code: u16,
}

#[derive(Debug, Default)]
pub struct Faults {
    rules: Vec<Rule>,
    pub latency: Duration,
}

fn matches(pattern: &str, value: &str) -> bool {
    pattern == "*" || pattern.is_empty() || pattern == value
}

impl Faults {
    /// Queues a fault: the next `n` requests with `verb` (`get`, `list`, `watch`, `create`,
    /// `update`, `patch`, `delete`, `deletecollection` or `*`) on `resource` (plural, e.g.
    /// `pods`, or `*`) are answered with `code`.
    pub fn add(&mut self, n: u32, verb: &str, resource: &str, code: u16) {
        if n > 0 {
            self.rules.push(Rule {
                remaining: n,
                verb: verb.to_string(),
                resource: resource.to_string(),
                code,
            });
        }
    }

    /// Consumes one matching fault, if any, as the error to answer with.
    pub fn take(&mut self, verb: &str, resource: &str, name: &str) -> Option<ApiError> {
        let idx = self
            .rules
            .iter()
            .position(|r| matches(&r.verb, verb) && matches(&r.resource, resource))?;
        let code = self.rules[idx].code;
        self.rules[idx].remaining -= 1;
        if self.rules[idx].remaining == 0 {
            self.rules.remove(idx);
        }
        Some(injected(code, resource, name))
    }
}

fn injected(code: u16, resource: &str, name: &str) -> ApiError {
    let msg = "injected by the sandbox";
    match code {
        409 => ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {resource} \"{name}\": the object has been modified; please apply your changes to the latest version and try again ({msg})"
            ),
        ),
        403 => ApiError::forbidden(format!("{resource} \"{name}\" is forbidden: {msg}")),
        400 => ApiError::bad_request(msg),
        404 => ApiError::new(404, "NotFound", format!("{resource} \"{name}\" not found")),
        410 => ApiError::expired(msg),
        422 => ApiError::new(422, "Invalid", msg),
        429 => ApiError::new(429, "TooManyRequests", msg),
        503 => ApiError::new(503, "ServiceUnavailable", msg),
        504 => ApiError::new(504, "Timeout", msg),
        c => ApiError::new(
            c,
            "InternalError",
            format!("Internal error occurred: {msg}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_count_down() {
        let mut f = Faults::default();
        f.add(2, "create", "pods", 500);
        assert!(f.take("get", "pods", "x").is_none());
        assert_eq!(f.take("create", "pods", "x").unwrap().code, 500);
        assert_eq!(
            f.take("create", "pods", "x").unwrap().reason,
            "InternalError"
        );
        assert!(f.take("create", "pods", "x").is_none());
        f.add(1, "*", "*", 409);
        assert_eq!(f.take("patch", "services", "s").unwrap().reason, "Conflict");
    }
}
