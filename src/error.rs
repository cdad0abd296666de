//! One error type for the service, mapped to gRPC status codes in one place.

use crate::corpus::CorpusError;
use crate::model::{ModelError, ModelFileError};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed; `field` names the offending field (e.g. "article.text").
    #[error("{field}: {message}")]
    InvalidArgument { field: String, message: String },
    /// The request is larger than the configured limit.
    #[error("{field}: {message}")]
    TooLarge { field: String, message: String },
    #[error("the model is still loading; retry shortly")]
    NotReady,
    /// A model that cannot replace the served one (the served one stays).
    #[error("model not reloaded: {0}")]
    Reload(String),
    /// Admission control: every request slot is taken; the client should back off and retry.
    #[error("the server is at its limit of {0} concurrent requests; retry with backoff")]
    Overloaded(usize),
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error(transparent)]
    ModelFile(#[from] ModelFileError),
    #[error(transparent)]
    TaggerFile(#[from] crate::ner::TaggerFileError),
    #[error(transparent)]
    Corpus(#[from] CorpusError),
    #[error(transparent)]
    Training(#[from] ModelError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("gRPC transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// A remote server (`warta classify --remote`) could not answer.
    #[error("remote server {0}")]
    Remote(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Error::InvalidArgument {
            field: field.to_string(),
            message: message.into(),
        }
    }

    /// The gRPC code this error answers with.
    pub fn code(&self) -> Code {
        match self {
            Error::InvalidArgument { .. } => Code::InvalidArgument,
            Error::TooLarge { .. } | Error::Overloaded(_) => Code::ResourceExhausted,
            Error::NotReady | Error::ShuttingDown | Error::Remote(_) => Code::Unavailable,
            Error::Reload(_) => Code::FailedPrecondition,
            Error::ModelFile(_)
            | Error::TaggerFile(_)
            | Error::Corpus(_)
            | Error::Training(_)
            | Error::Io(_)
            | Error::Transport(_)
            | Error::Internal(_) => Code::Internal,
        }
    }

    /// The request field at fault, if any.
    pub fn field(&self) -> &str {
        match self {
            Error::InvalidArgument { field, .. } | Error::TooLarge { field, .. } => field,
            _ => "",
        }
    }
}

impl From<Error> for Status {
    fn from(e: Error) -> Status {
        let code = e.code();
        match &e {
            // rich details (google.rpc.BadRequest) so clients can point at the field
            Error::InvalidArgument { field, message } | Error::TooLarge { field, message } => {
                Status::with_error_details(
                    code,
                    e.to_string(),
                    ErrorDetails::with_bad_request_violation(field.clone(), message.clone()),
                )
            }
            _ => Status::new(code, e.to_string()),
        }
    }
}
