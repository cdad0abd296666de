//! Optional bearer-token authentication for ArticleService, checked in constant time.

use tonic::{Request, Status};

/// The interceptor: with a token configured, a call must carry `authorization: Bearer <token>`.
#[derive(Clone)]
pub struct BearerToken {
    expected: Option<Vec<u8>>,
    /// Without a configured token: refuse every call (admin) instead of letting all through.
    required: bool,
}

impl BearerToken {
    /// Calls pass freely when no token is configured.
    pub fn new(token: Option<String>) -> Self {
        BearerToken {
            expected: token.filter(|t| !t.is_empty()).map(String::into_bytes),
            required: false,
        }
    }

    /// Calls need the token, and are refused outright when none is configured.
    pub fn required(token: Option<String>) -> Self {
        BearerToken {
            required: true,
            ..BearerToken::new(token)
        }
    }

    /// Whether every call passes (no token configured, none required).
    pub fn lets_all_through(&self) -> bool {
        self.expected.is_none() && !self.required
    }
}

/// Equal byte strings, in time that depends on the length only (not on where they differ).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

impl tonic::service::Interceptor for BearerToken {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let Some(expected) = &self.expected else {
            return if self.required {
                Err(Status::unauthenticated(
                    "admin calls are disabled: start the server with --api-token",
                ))
            } else {
                Ok(request)
            };
        };
        let given = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim);
        match given {
            Some(token) if constant_time_eq(token.as_bytes(), expected) => Ok(request),
            Some(_) => Err(Status::unauthenticated("invalid bearer token")),
            None => Err(Status::unauthenticated(
                "missing \"authorization: Bearer <token>\" metadata",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_whole_tokens() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(constant_time_eq(b"", b""));
    }
}
