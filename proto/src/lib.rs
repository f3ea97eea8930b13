//! nubo's internal gRPC APIs: one module per service, generated at build
//! time from `proto/nubo/<service>/v1/*.proto`, plus [`ErrorCode`], the error
//! vocabulary every service shares across the gRPC boundary.

pub mod clients;
pub mod cluster;
mod error;

pub use cluster::{ClusterToken, Link};
pub use error::{AWS_ERROR_KEY, ErrorCode, RemoteError, aws_status, status};

/// Generated code for `nubo.data.v1`.
pub mod data {
    tonic::include_proto!("nubo.data.v1");
}

/// Generated code for `nubo.storage.v1`.
pub mod storage {
    tonic::include_proto!("nubo.storage.v1");
}

/// Generated code for `nubo.functions.v1`.
pub mod functions {
    tonic::include_proto!("nubo.functions.v1");
}

/// Generated code for `nubo.gateway.v1`.
pub mod gateway {
    tonic::include_proto!("nubo.gateway.v1");
}

/// Generated code for `nubo.auth.v1`.
pub mod auth {
    tonic::include_proto!("nubo.auth.v1");
}

/// Generated code for `nubo.cdn.v1`.
pub mod cdn {
    tonic::include_proto!("nubo.cdn.v1");
}

/// Generated code for `nubo.dns.v1`.
pub mod dns {
    tonic::include_proto!("nubo.dns.v1");
}
